// Small pure helpers about prompts: the parts a template includes, snippet text.

import type { Prompt } from "../api/types";

const INCLUDE_RE = /\{%-?\s*include\s+["']([^"']+)["']/g;

/** The parts a prompt includes directly (`{% include "category/name" %}`), in order. */
export function includedParts(prompt: Pick<Prompt, "template" | "messages">): string[] {
  const texts = [prompt.template ?? "", ...(prompt.messages ?? []).map((m) => m.content)];
  const seen = new Set<string>();
  for (const text of texts) {
    for (const m of text.matchAll(INCLUDE_RE)) {
      const name = (m[1] ?? "").replace(/\.(md|txt|j2)$/, "");
      if (name) seen.add(name);
    }
  }
  return [...seen];
}

/** A JSON value as Python source (True/False/None, dicts and lists). */
export function pyLiteral(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "None";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(", ")}]`;
  if (typeof v === "object") {
    const items = Object.entries(v as Record<string, unknown>).map(
      ([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x)}`,
    );
    return `{${items.join(", ")}}`;
  }
  return JSON.stringify(String(v));
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface SnippetTarget {
  origin: string;
  project: string; // workspace~slug
  projectSlash: string; // workspace/slug
  promptId: string;
  version: string;
  inputs: Record<string, unknown>;
}

/** Fetch snippets for exactly this version: curl, the Python SDK, `dakora render`. */
export function snippets(t: SnippetTarget): { curl: string; python: string; cli: string } {
  const url = `${t.origin}/api/projects/${t.project}/prompts/${t.promptId}/render`;
  const body = JSON.stringify({ inputs: t.inputs, version: t.version });
  const curl = [
    `curl -s -H "Authorization: Bearer $DAKORA_API_KEY" \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -d ${shellQuote(body)} \\`,
    `  ${url}`,
  ].join("\n");
  const pyInputs = pyLiteral(t.inputs);
  const python = [
    "import os",
    "from dakora.client import Dakora",
    "",
    `with Dakora(${JSON.stringify(t.origin)}, os.environ["DAKORA_API_KEY"], ${JSON.stringify(t.projectSlash)}) as dakora:`,
    `    out = dakora.prompts.render(${JSON.stringify(t.promptId)}, ${pyInputs}, version=${JSON.stringify(t.version)})`,
    "    print(out.rendered if out.rendered is not None else out.messages)",
  ].join("\n");
  const flags = Object.entries(t.inputs).map(([k, v]) => {
    const text = typeof v === "string" ? v : JSON.stringify(v);
    return ` -i ${shellQuote(`${k}=${text}`)}`;
  });
  const cli =
    `dakora render ${t.promptId} --remote ${t.origin} --project ${t.projectSlash} ` +
    `--version ${t.version}${flags.join("")}`;
  return { curl, python, cli };
}

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : "—";
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

/** A side of a diff or comparison: a version of the prompt, else a ref or commit. */
export function selectorFor(value: string, versions: string[]): { version?: string; ref?: string } {
  return versions.includes(value) ? { version: value } : { ref: value };
}

/** A render result as text: the text, or chat messages as `[role]` blocks. */
export function renderedText(r: { rendered?: string | null; messages?: { role: string; content: string }[] | null }): string {
  if (r.messages) return r.messages.map((m) => `[${m.role}]\n${m.content}`).join("\n\n");
  return r.rendered ?? "";
}

/** Example inputs for snippets: the first example, else placeholders for required inputs. */
export function sampleInputs(prompt: Prompt): Record<string, unknown> {
  const first = prompt.examples[0];
  if (first) return first;
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(prompt.inputs)) {
    const hasDefault = spec.default !== undefined && spec.default !== null;
    if (hasDefault || spec.required === false) continue;
    if (spec.enum?.length) out[name] = spec.enum[0];
    else if (spec.type === "number") out[name] = 0;
    else if (spec.type === "boolean") out[name] = false;
    else if (spec.type === "array<string>") out[name] = [`<${name}>`];
    else if (spec.type === "object") out[name] = {};
    else out[name] = `<${name}>`;
  }
  return out;
}
