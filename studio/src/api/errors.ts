// One error type for every failed API call, mapped from the server's error shape
// {"error": {"code", "message", "problems"?, "findings"?, "details"?}}.

import type { Finding } from "./types";

export interface Problem {
  input?: string;
  field?: string;
  message: string;
  expected?: string | null;
  value?: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problems: Problem[];
  readonly findings: Finding[];
  readonly details: Record<string, unknown> | null;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: { problems?: Problem[]; findings?: Finding[]; details?: Record<string, unknown> | null } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.problems = extra.problems ?? [];
    this.findings = extra.findings ?? [];
    this.details = extra.details ?? null;
  }

  /** 401: the key is missing, wrong, revoked or expired: back to sign-in. */
  get isUnauthenticated(): boolean {
    return this.status === 401;
  }

  /** 412: someone else changed what was edited. */
  get isStale(): boolean {
    return this.status === 412 || this.code === "precondition_failed";
  }
}

const STATUS_TEXT: Record<number, [string, string]> = {
  400: ["bad_request", "The server refused the request"],
  401: ["unauthenticated", "Sign in with an API key"],
  403: ["forbidden", "This key may not do that"],
  404: ["not_found", "Not found"],
  405: ["method_not_allowed", "Method not allowed"],
  409: ["conflict", "Someone else changed it first"],
  412: ["precondition_failed", "It changed since you opened it"],
  413: ["payload_too_large", "The request is too large"],
  422: ["invalid_request", "The request is not valid"],
  429: ["quota_exceeded", "Quota exceeded"],
  500: ["internal_error", "The server failed"],
  502: ["bad_gateway", "The server is not reachable"],
  503: ["storage_error", "The server is unavailable"],
  504: ["gateway_timeout", "The server did not answer in time"],
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asProblems(value: unknown): Problem[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((p) => ({
    input: typeof p.input === "string" ? p.input : undefined,
    field: typeof p.field === "string" ? p.field : undefined,
    message: typeof p.message === "string" ? p.message : String(p.message ?? ""),
    expected: typeof p.expected === "string" ? p.expected : null,
    value: p.value,
  }));
}

function asFindings(value: unknown): Finding[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((f) => ({
    severity: f.severity === "warning" || f.severity === "info" ? f.severity : "error",
    path: typeof f.path === "string" ? f.path : "",
    line: typeof f.line === "number" ? f.line : null,
    rule: typeof f.rule === "string" ? f.rule : "",
    message: typeof f.message === "string" ? f.message : String(f.message ?? ""),
  }));
}

/** Map a failed response (status + body text) to an ApiError. Never throws. */
export function errorFromResponse(status: number, bodyText: string): ApiError {
  const [fallbackCode, fallbackMessage] = STATUS_TEXT[status] ?? [
    status >= 500 ? "server_error" : "http_error",
    `The server answered ${status}`,
  ];
  let parsed: unknown;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : null;
  } catch {
    parsed = null;
  }
  const inner = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : null;
  if (inner === null) {
    // FastAPI's own {"detail": "..."} or a proxy's HTML page
    const detail = isRecord(parsed) && typeof parsed.detail === "string" ? parsed.detail : null;
    return new ApiError(status, fallbackCode, detail ?? fallbackMessage);
  }
  const code = typeof inner.code === "string" && inner.code ? inner.code : fallbackCode;
  const message =
    typeof inner.message === "string" && inner.message ? inner.message : fallbackMessage;
  return new ApiError(status, code, message, {
    problems: asProblems(inner.problems),
    findings: asFindings(inner.findings),
    details: isRecord(inner.details) ? inner.details : null,
  });
}

/** A request that never got an answer (server down, connection refused). */
export function networkError(cause: unknown): ApiError {
  const reason = cause instanceof Error && cause.message ? `: ${cause.message}` : "";
  return new ApiError(0, "network_error", `Cannot reach the Dakora server${reason}`);
}

/**
 * The problems of a 422 by input name, for showing each next to its field.
 * `invalid_inputs` problems name the input; `invalid_request` problems name a body
 * field such as `body.inputs.tier`. Problems that name no input go under "".
 */
export function problemsByInput(error: ApiError | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (error === null) return out;
  for (const p of error.problems) {
    let key = "";
    if (p.input) key = p.input;
    else if (p.field) {
      const m = /^body\.inputs\.([^.]+)/.exec(p.field);
      key = m?.[1] ?? "";
    }
    (out[key] ??= []).push(p.message);
  }
  return out;
}

/** Findings grouped by line (null line → 0), for the editor's gutter. */
export function findingsByLine(findings: Finding[]): Map<number, Finding[]> {
  const out = new Map<number, Finding[]>();
  for (const f of findings) {
    const line = f.line ?? 0;
    const list = out.get(line) ?? [];
    list.push(f);
    out.set(line, list);
  }
  return out;
}
