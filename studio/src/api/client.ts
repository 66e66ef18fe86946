// A thin fetch wrapper: the API key (sessionStorage) as a Bearer token, JSON in and
// out, every failure an ApiError; a 401 tells the app to show the sign-in screen.

import { ApiError, errorFromResponse, networkError } from "./errors";

const KEY_STORAGE = "dakora.apiKey";

export function getStoredKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives for this page only
  }
  memoryKey = key;
}

let memoryKey: string | null = null;
let onUnauthenticated: (() => void) | null = null;

export function setUnauthenticatedHandler(handler: (() => void) | null): void {
  onUnauthenticated = handler;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: string;
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Do not send the user to sign-in on a 401 (the sign-in form itself). */
  quiet401?: boolean;
  key?: string | null;
}

export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    params.set(name, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  // X-Dakora-Source: the audit log records the Studio's writes as source "studio"
  // (docs/promotion.md); a label, not a permission.
  const headers: Record<string, string> = {
    Accept: "application/json",
    "X-Dakora-Source": "studio",
    ...options.headers,
  };
  const key = options.key !== undefined ? options.key : (memoryKey ?? getStoredKey());
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
      signal: options.signal,
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw networkError(cause);
  }
  const text = await response.text();
  if (!response.ok) {
    const error = errorFromResponse(response.status, text);
    if (error.isUnauthenticated && !options.quiet401) onUnauthenticated?.();
    throw error;
  }
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, "bad_response", "The server sent a response that is not JSON");
  }
}

/** `/api/projects/{project}` + rest, with the project id escaped. */
export function projectPath(project: string, rest = ""): string {
  return `/api/projects/${encodeURIComponent(project)}${rest}`;
}

export function enc(segment: string): string {
  return encodeURIComponent(segment);
}
