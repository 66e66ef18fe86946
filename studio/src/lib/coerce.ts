// The playground form: a field per declared input, its initial value, and the
// conversion of what the user typed into the typed JSON the render API takes.
//
// The server is the authority on inputs (DESIGN §3): the form converts what it can
// ("3" → 3) and sends what it cannot convert as typed ("abc" for a number), so the
// server's 422 names the problem next to the field. Only an object field whose text
// is not JSON at all is stopped here (there is nothing to send).

import type { InputSpec } from "../api/types";

export type FieldKind = "text" | "number" | "switch" | "select" | "tags" | "json";

/** The value a field holds: text for text/number/select/json, a boolean (or null =
 * not set) for a switch, a list for tags. */
export type FieldValue = string | boolean | null | string[];

export type FormValues = Record<string, FieldValue>;

export function fieldKind(spec: InputSpec): FieldKind {
  if (Array.isArray(spec.enum) && spec.enum.length > 0) return "select";
  switch (spec.type) {
    case "number":
      return "number";
    case "boolean":
      return "switch";
    case "array<string>":
      return "tags";
    case "object":
      return "json";
    default:
      return "text";
  }
}

/** Required unless it has a default or says `required: false`. */
export function isRequired(spec: InputSpec): boolean {
  if (spec.default !== undefined && spec.default !== null) return false;
  return spec.required !== false;
}

function hasDefault(spec: InputSpec): boolean {
  return spec.default !== undefined && spec.default !== null;
}

/** A JSON value as the field shows it. */
export function toFieldValue(spec: InputSpec, value: unknown): FieldValue {
  const kind = fieldKind(spec);
  if (value === undefined || value === null) {
    if (kind === "switch") return null;
    if (kind === "tags") return [];
    return "";
  }
  switch (kind) {
    case "switch":
      return typeof value === "boolean" ? value : String(value);
    case "tags":
      return Array.isArray(value) ? value.map((v) => String(v)) : [String(value)];
    case "json":
      return typeof value === "string" ? value : JSON.stringify(value, null, 2);
    default:
      return typeof value === "string" ? value : String(value);
  }
}

/** Every field at its default (or empty). */
export function initialValues(specs: Record<string, InputSpec>): FormValues {
  const out: FormValues = {};
  for (const [name, spec] of Object.entries(specs)) {
    out[name] = toFieldValue(spec, hasDefault(spec) ? spec.default : undefined);
  }
  return out;
}

/** A preset from the prompt's `examples`: defaults, overridden by the example. */
export function valuesFromExample(
  specs: Record<string, InputSpec>,
  example: Record<string, unknown>,
): FormValues {
  const out = initialValues(specs);
  for (const [name, value] of Object.entries(example)) {
    const spec = specs[name];
    if (spec) out[name] = toFieldValue(spec, value);
  }
  return out;
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** "3" → 3, "2.5" → 2.5; anything else stays the text it is (the server says why). */
export function coerceNumber(text: string): number | string {
  const t = text.trim();
  if (INT_RE.test(t)) {
    const n = Number.parseInt(t, 10);
    if (Number.isSafeInteger(n)) return n;
  }
  if (FLOAT_RE.test(t)) {
    const n = Number.parseFloat(t);
    if (Number.isFinite(n)) return n;
  }
  return text;
}

function enumValue(spec: InputSpec, text: string): unknown {
  const found = (spec.enum ?? []).find((v) => String(v) === text);
  return found !== undefined ? found : text;
}

export interface Coerced {
  /** The body's `inputs`: only the fields that hold a value. */
  inputs: Record<string, unknown>;
  /** Problems found before sending, by input name (a JSON field that is not JSON). */
  errors: Record<string, string>;
}

/**
 * The typed inputs for `POST …/render`. Empty fields are left out, so the server
 * applies the default, or reports a missing required input next to its field.
 */
export function toInputs(specs: Record<string, InputSpec>, values: FormValues): Coerced {
  const inputs: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = values[name];
    if (value === undefined || value === null) continue;
    const kind = fieldKind(spec);
    if (kind === "switch") {
      if (typeof value === "boolean") inputs[name] = value;
      else if (typeof value === "string" && value !== "") inputs[name] = value;
      continue;
    }
    if (kind === "tags") {
      const items = Array.isArray(value) ? value : [String(value)];
      const cleaned = items.map((s) => s.trim()).filter((s) => s !== "");
      if (cleaned.length > 0) inputs[name] = cleaned;
      continue;
    }
    const text = Array.isArray(value) ? value.join(",") : String(value);
    if (text.trim() === "" && kind !== "text") continue;
    if (text === "") continue;
    switch (kind) {
      case "number":
        inputs[name] = coerceNumber(text);
        break;
      case "select":
        inputs[name] = spec.type === "number" ? coerceEnumNumber(spec, text) : enumValue(spec, text);
        break;
      case "json": {
        const parsed = parseJson(text);
        if (parsed.ok) inputs[name] = parsed.value;
        else errors[name] = parsed.error;
        break;
      }
      default:
        inputs[name] = text;
    }
  }
  return { inputs, errors };
}

function coerceEnumNumber(spec: InputSpec, text: string): unknown {
  const found = enumValue(spec, text);
  return typeof found === "string" ? coerceNumber(found) : found;
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; error: string };

/** Parse JSON text, with a message that says where it broke. */
export function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    return { ok: false, error: `not valid JSON: ${reason}` };
  }
}

/** The checks the JSON editor of an object field shows as you type. */
export function checkObjectJson(text: string): string | null {
  if (text.trim() === "") return null;
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed.error;
  const v = parsed.value;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return "expected a JSON object ({ … })";
  }
  return null;
}
