// Two versions or refs of a prompt rendered with the same inputs, side by side, with a
// diff of the rendered text.

import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import { ApiError, problemsByInput } from "../api/errors";
import type { Prompt, RenderResult } from "../api/types";
import { InputsForm } from "../components/InputsForm";
import { DiffView } from "../components/lazy";
import { useRefs } from "../components/RefPicker";
import { Button, ErrorBox, LinkButton, Loading, PageHeader, Section, selectClass } from "../components/ui";
import { initialValues, toInputs, valuesFromExample, type FormValues } from "../lib/coerce";
import { renderedText, selectorFor } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { promptUrl } from "../project";
import { RenderOutput } from "./Playground";
import { usePromptSelection } from "./Prompt";

export function Compare() {
  const { project, promptId } = usePromptSelection();
  const [params, setParams] = useSearchParams();
  const versions = useApi(`versions:${project.id}:${promptId}:`, (signal) => api.versions(project.id, promptId, null, signal));
  const refs = useRefs(project);
  const list = versions.data?.versions.map((v) => v.version) ?? [];
  const a = params.get("a") || list[1] || list[0] || "";
  const b = params.get("b") || list[0] || project.default_branch;
  const setSide = (name: "a" | "b", value: string) => {
    const next = new URLSearchParams(params);
    next.set("a", name === "a" ? value : a);
    next.set("b", name === "b" ? value : b);
    setParams(next);
  };
  const sides = useApi(a && b && versions.data ? `cmp:${project.id}:${promptId}:${a}:${b}` : null, async (signal) => {
    const [pa, pb] = await Promise.all([
      api.prompt(project.id, promptId, selectorFor(a, list), signal),
      api.prompt(project.id, promptId, selectorFor(b, list), signal),
    ]);
    return { a: pa, b: pb };
  });
  const options = [
    ...list.map((v) => ({ value: v, label: `version ${v}` })),
    ...(refs.data?.refs ?? []).map((r) => ({ value: r.name, label: `${r.kind} ${r.name}` })),
  ];

  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={
          <>
            Compare · <span className="font-mono">{promptId}</span>
          </>
        }
        subtitle="Two versions or refs rendered with the same inputs."
        actions={<LinkButton to={promptUrl(project, promptId)}>Back to the prompt</LinkButton>}
      />
      {versions.error ? <ErrorBox error={versions.error} onRetry={versions.reload} /> : null}
      <div className="flex flex-wrap gap-3">
        <SidePicker label="Left (A)" value={a} options={options} onChange={(v) => setSide("a", v)} />
        <SidePicker label="Right (B)" value={b} options={options} onChange={(v) => setSide("b", v)} />
      </div>
      {sides.loading || versions.loading ? <Loading /> : null}
      {sides.error ? <ErrorBox error={sides.error} onRetry={sides.reload} /> : null}
      {sides.data ? <CompareForm key={`${sides.data.a.blob_sha}:${sides.data.b.blob_sha}`} a={sides.data.a} b={sides.data.b} selA={selectorFor(a, list)} selB={selectorFor(b, list)} /> : null}
    </div>
  );
}

function SidePicker({ label, value, options, onChange }: { label: string; value: string; options: { value: string; label: string }[]; onChange: (v: string) => void }) {
  const id = useId();
  const known = options.some((o) => o.value === value);
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-xs font-medium text-gray-700 dark:text-gray-300">
        {label}
      </label>
      <select id={id} className={`${selectClass} min-w-44`} value={value} onChange={(e) => onChange(e.target.value)}>
        {!known && value ? <option value={value}>{value}</option> : null}
        {options.map((o) => (
          <option key={o.label} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

type Side = { result?: RenderResult; error?: Error };

function CompareForm({ a, b, selA, selB }: { a: Prompt; b: Prompt; selA: object; selB: object }) {
  const { project } = usePromptSelection();
  const specs = { ...a.inputs, ...b.inputs };
  const [values, setValues] = useState<FormValues>(() => (b.examples[0] ? valuesFromExample(specs, b.examples[0]) : initialValues(specs)));
  const [out, setOut] = useState<{ a: Side; b: Side } | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async () => {
    const { inputs } = toInputs(specs, values);
    const only = (p: Prompt) => Object.fromEntries(Object.entries(inputs).filter(([k]) => k in p.inputs));
    setBusy(true);
    const side = async (p: Prompt, sel: object): Promise<Side> => {
      try {
        return { result: await api.render(project.id, p.id, only(p), sel) };
      } catch (e) {
        return { error: e instanceof Error ? e : new Error(String(e)) };
      }
    };
    const [ra, rb] = await Promise.all([side(a, selA), side(b, selB)]);
    setOut({ a: ra, b: rb });
    setBusy(false);
  };

  const errs: Record<string, string[]> = {};
  for (const s of [out?.a, out?.b]) {
    if (s?.error instanceof ApiError) for (const [k, v] of Object.entries(problemsByInput(s.error))) if (k) (errs[k] ??= []).push(...v);
  }

  return (
    <div className="flex flex-col gap-4">
      <Section title="Inputs (sent to both sides)" id="cmp-inputs">
        <form
          aria-label="Compare inputs"
          className="flex flex-col gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            void run();
          }}
        >
          <InputsForm specs={specs} values={values} onChange={setValues} errors={errs} />
          <div>
            <Button type="submit" variant="primary" disabled={busy} data-testid="compare-button">
              {busy ? "Rendering…" : "Render both"}
            </Button>
          </div>
        </form>
      </Section>
      {out ? (
        <>
          <div className="grid gap-4 lg:grid-cols-2">
            <Section title={`A · ${a.version}`} id="cmp-a">
              {out.a.result ? <RenderOutput result={out.a.result} /> : <ErrorBox error={out.a.error!} />}
            </Section>
            <Section title={`B · ${b.version}`} id="cmp-b">
              {out.b.result ? <RenderOutput result={out.b.result} /> : <ErrorBox error={out.b.error!} />}
            </Section>
          </div>
          {out.a.result && out.b.result ? (
            <Section title="Diff of the rendered text" id="cmp-diff">
              {renderedText(out.a.result) === renderedText(out.b.result) ? (
                <p className="text-sm" data-testid="compare-same">Both render the same text.</p>
              ) : (
                <DiffView mode="split" language="text" a={renderedText(out.a.result)} b={renderedText(out.b.result)} labelA={`Rendered ${a.version}`} labelB={`Rendered ${b.version}`} />
              )}
            </Section>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
