// Every API call the Studio makes, typed.

import { enc, projectPath, request } from "./client";
import type {
  ApiKey,
  ApiKeyCreated,
  CheckResult,
  Diff,
  LogPage,
  Me,
  Part,
  PartSummary,
  Prompt,
  PromptList,
  PushPage,
  RefList,
  RenderResult,
  Review,
  VersionList,
  WriteResult,
} from "./types";

export type Selector = { ref?: string | null; version?: string | null; commit?: string | null };

type S = AbortSignal | undefined;

export const api = {
  health: (signal?: S) => request<{ status: string; version: string; auth_mode: string }>("/api/health", { signal }),
  me: (signal?: S, key?: string | null) => request<Me>("/api/me", { signal, key, quiet401: key !== undefined }),
  refs: (p: string, signal?: S) => request<RefList>(projectPath(p, "/refs"), { signal }),
  prompts: (p: string, ref: string | null, signal?: S) =>
    request<PromptList>(projectPath(p, "/prompts"), { query: { ref, detail: true }, signal }),
  prompt: (p: string, id: string, sel: Selector, signal?: S) =>
    request<Prompt>(projectPath(p, `/prompts/${enc(id)}`), {
      query: { ref: sel.ref, version: sel.version, commit: sel.commit },
      signal,
    }),
  render: (p: string, id: string, inputs: Record<string, unknown>, sel: Selector, signal?: S) =>
    request<RenderResult>(projectPath(p, `/prompts/${enc(id)}/render`), {
      method: "POST",
      body: { inputs, ...cleanSelector(sel) },
      signal,
    }),
  versions: (p: string, id: string, ref: string | null, signal?: S) =>
    request<VersionList>(projectPath(p, `/prompts/${enc(id)}/versions`), { query: { ref }, signal }),
  diff: (p: string, id: string, from: string, to: string, signal?: S) =>
    request<Diff>(projectPath(p, `/prompts/${enc(id)}/diff`), { query: { from, to }, signal }),
  parts: (p: string, ref: string | null, signal?: S) =>
    request<{ parts: PartSummary[]; ref: string | null; commit: string }>(projectPath(p, "/parts"), {
      query: { ref },
      signal,
    }),
  part: (p: string, name: string, ref: string | null, signal?: S) =>
    request<Part>(projectPath(p, `/parts/${name.split("/").map(enc).join("/")}`), { query: { ref }, signal }),
  compare: (p: string, base: string, head: string, signal?: S) =>
    request<Review>(projectPath(p, "/compare"), { query: { base, head }, signal }),
  pushes: (p: string, query: { ref?: string; result?: string; cursor?: string | null }, signal?: S) =>
    request<PushPage>(projectPath(p, "/pushes"), { query: { ...query, limit: 50 }, signal }),
  logs: (p: string, query: { prompt_id?: string; cursor?: string | null }, signal?: S) =>
    request<LogPage>(projectPath(p, "/logs"), { query: { ...query, limit: 50 }, signal }),
  check: (p: string, body: { path: string; content: string; branch?: string | null }, signal?: S) =>
    request<CheckResult>(projectPath(p, "/check"), { method: "POST", body, signal }),
  createPrompt: (p: string, body: { yaml: string; branch?: string; message?: string }) =>
    request<WriteResult>(projectPath(p, "/prompts"), { method: "POST", body }),
  updatePrompt: (p: string, id: string, body: { yaml: string; branch?: string; message?: string }, ifMatch?: string) =>
    request<WriteResult>(projectPath(p, `/prompts/${enc(id)}`), {
      method: "PUT",
      body,
      headers: ifMatch ? { "If-Match": ifMatch } : {},
    }),
  updatePart: (
    p: string,
    name: string,
    body: { content: string; branch?: string; message?: string },
    ifMatch?: string,
  ) =>
    request<WriteResult>(projectPath(p, `/parts/${name.split("/").map(enc).join("/")}`), {
      method: "PUT",
      body,
      headers: ifMatch ? { "If-Match": ifMatch } : {},
    }),
  apiKeys: (p: string, signal?: S) => request<{ keys: ApiKey[] }>(projectPath(p, "/api-keys"), { signal }),
  createApiKey: (p: string, body: { name: string; scope: string; expires_days?: number | null }) =>
    request<ApiKeyCreated>(projectPath(p, "/api-keys"), { method: "POST", body }),
  revokeApiKey: (p: string, id: string) =>
    request<unknown>(projectPath(p, `/api-keys/${enc(id)}`), { method: "DELETE" }),
};

function cleanSelector(sel: Selector): Selector {
  const out: Selector = {};
  if (sel.version) out.version = sel.version;
  else if (sel.commit) out.commit = sel.commit;
  else if (sel.ref) out.ref = sel.ref;
  return out;
}
