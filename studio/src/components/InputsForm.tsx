// The playground form: one typed field per declared input, required marked, problems
// (the client's and the server's 422) shown next to their field.

import * as Switch from "@radix-ui/react-switch";
import { useId, useState, type KeyboardEvent } from "react";
import type { InputSpec } from "../api/types";
import { checkObjectJson, fieldKind, isRequired, type FieldValue, type FormValues } from "../lib/coerce";
import { JsonEditor } from "./lazy";
import { Button, inputClass, selectClass } from "./ui";

export function InputsForm({
  specs,
  values,
  onChange,
  errors,
}: {
  specs: Record<string, InputSpec>;
  values: FormValues;
  onChange: (values: FormValues) => void;
  errors: Record<string, string[]>;
}) {
  const names = Object.keys(specs);
  if (names.length === 0) return <p className="text-sm text-gray-700 dark:text-gray-300">This prompt declares no inputs.</p>;
  return (
    <div className="flex flex-col gap-4">
      {names.map((name) => (
        <Field
          key={name}
          name={name}
          spec={specs[name]!}
          value={values[name] ?? null}
          errors={errors[name] ?? []}
          onChange={(v) => onChange({ ...values, [name]: v })}
        />
      ))}
    </div>
  );
}

function Field({
  name,
  spec,
  value,
  errors,
  onChange,
}: {
  name: string;
  spec: InputSpec;
  value: FieldValue;
  errors: string[];
  onChange: (v: FieldValue) => void;
}) {
  const id = useId();
  const kind = fieldKind(spec);
  const required = isRequired(spec);
  const jsonProblem = kind === "json" && typeof value === "string" ? checkObjectJson(value) : null;
  const shownErrors = jsonProblem ? [jsonProblem, ...errors] : errors;
  const errorId = `${id}-errors`;
  const descId = `${id}-desc`;
  const describedBy = [spec.description ? descId : null, shownErrors.length ? errorId : null].filter(Boolean).join(" ") || undefined;
  const invalid = shownErrors.length > 0 ? true : undefined;
  const border = invalid ? " border-red-600 dark:border-red-400" : "";

  let control;
  switch (kind) {
    case "switch":
      control = (
        <div className="flex items-center gap-2">
          <Switch.Root
            id={id}
            checked={value === true}
            onCheckedChange={(c) => onChange(c)}
            aria-describedby={describedBy}
            aria-invalid={invalid}
            className="relative h-6 w-11 shrink-0 rounded-full bg-gray-400 outline-none focus-visible:outline-2 focus-visible:outline-blue-600 data-[state=checked]:bg-blue-700 dark:bg-gray-600 dark:data-[state=checked]:bg-blue-500"
          >
            <Switch.Thumb className="block h-5 w-5 translate-x-0.5 rounded-full bg-white shadow transition-transform data-[state=checked]:translate-x-[22px]" />
          </Switch.Root>
          <span className="text-sm">{value === null ? "not set" : value ? "true" : "false"}</span>
          {value !== null && !required && spec.default === undefined ? (
            <Button variant="ghost" onClick={() => onChange(null)}>
              Unset
            </Button>
          ) : null}
        </div>
      );
      break;
    case "select":
      control = (
        <select
          id={id}
          className={selectClass + border}
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value)}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          aria-required={required}
        >
          {!required || value === "" ? <option value="">{required ? "Choose…" : "(not set)"}</option> : null}
          {(spec.enum ?? []).map((v) => (
            <option key={String(v)} value={String(v)}>
              {String(v)}
            </option>
          ))}
        </select>
      );
      break;
    case "number":
      control = (
        <input
          id={id}
          type="text"
          inputMode="decimal"
          className={inputClass + border}
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value)}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          aria-required={required}
        />
      );
      break;
    case "tags":
      control = (
        <TagList id={id} value={Array.isArray(value) ? value : []} onChange={onChange} describedBy={describedBy} invalid={invalid} />
      );
      break;
    case "json":
      control = <JsonEditor id={id} label={`${name} (JSON object)`} value={typeof value === "string" ? value : ""} onChange={onChange} />;
      break;
    default:
      control = (
        <textarea
          id={id}
          rows={2}
          className={inputClass + border}
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value)}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          aria-required={required}
        />
      );
  }

  return (
    <div data-testid={`field-${name}`}>
      <label htmlFor={id} className="mb-1 flex flex-wrap items-baseline gap-2 text-sm">
        <span className="font-mono font-semibold">{name}</span>
        {required ? (
          <span className="text-red-800 dark:text-red-300" title="required">
            * <span className="sr-only">required</span>
          </span>
        ) : null}
        <span className="text-xs text-gray-700 dark:text-gray-300">{spec.type}</span>
      </label>
      {control}
      {spec.description ? (
        <p id={descId} className="mt-1 text-xs text-gray-700 dark:text-gray-300">
          {spec.description}
        </p>
      ) : null}
      {shownErrors.length ? (
        <div id={errorId} role="alert" className="mt-1 text-sm text-red-800 dark:text-red-300" data-testid={`field-error-${name}`}>
          <ul>
            {shownErrors.map((e, i) => (
              <li key={i}>{e}</li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}

function TagList({
  id,
  value,
  onChange,
  describedBy,
  invalid,
}: {
  id: string;
  value: string[];
  onChange: (v: string[]) => void;
  describedBy?: string;
  invalid?: boolean;
}) {
  const [draft, setDraft] = useState("");
  const add = () => {
    const items = draft
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (items.length) onChange([...value, ...items]);
    setDraft("");
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter" || e.key === ",") {
      e.preventDefault();
      add();
    } else if (e.key === "Backspace" && draft === "" && value.length) {
      onChange(value.slice(0, -1));
    }
  };
  return (
    <div className={`${inputClass} flex flex-wrap items-center gap-1.5`}>
      {value.map((tag, i) => (
        <span key={`${tag}-${i}`} className="inline-flex items-center gap-1 rounded bg-blue-100 px-1.5 py-0.5 text-xs text-blue-900 dark:bg-blue-950 dark:text-blue-100">
          {tag}
          <button
            type="button"
            className="rounded px-0.5 hover:bg-blue-200 dark:hover:bg-blue-900"
            aria-label={`Remove ${tag}`}
            onClick={() => onChange(value.filter((_, j) => j !== i))}
          >
            ×
          </button>
        </span>
      ))}
      <input
        id={id}
        className="min-w-24 flex-1 bg-transparent text-sm outline-none"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={onKey}
        onBlur={add}
        placeholder={value.length ? "" : "type, then Enter"}
        aria-describedby={describedBy}
        aria-invalid={invalid}
      />
    </div>
  );
}
