// Shapes of the Dakora HTTP API the Studio reads (see api/schemas.py and the README).

export interface Project {
  id: string;
  workspace: string;
  workspace_id: string;
  slug: string;
  name: string | null;
  ref: string;
  default_branch: string;
}

export interface Me {
  kind: "key" | "user" | "local";
  auth_mode: string;
  key?: { id: string; name: string | null; display: string; scopes: string[]; project_id: string } | null;
  user?: { id: string; subject?: string; email?: string | null } | null;
  projects: Project[];
}

export interface Ref {
  name: string;
  ref: string;
  kind: "branch" | "tag";
  commit: string;
  committed_at: string;
  protected: boolean;
  default: boolean;
}

export interface RefList {
  default_branch: string;
  protected_refs: string[];
  refs: Ref[];
}

export interface PromptSummary {
  id: string;
  version: string;
  description: string | null;
  path: string;
  blob_sha: string | null;
  kind?: "text" | "chat" | null;
  tags?: string[] | null;
}

export interface PromptList {
  prompts: PromptSummary[];
  ref: string | null;
  commit: string | null;
}

export interface InputSpec {
  type: string;
  required?: boolean;
  default?: unknown;
  enum?: unknown[];
  description?: string | null;
}

export interface ChatMessage {
  role: string;
  content: string;
}

export interface Prompt {
  id: string;
  version: string;
  description: string | null;
  kind: "text" | "chat";
  template?: string | null;
  messages?: ChatMessage[] | null;
  inputs: Record<string, InputSpec>;
  model: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  examples: Record<string, unknown>[];
  commit: string;
  ref: string | null;
  path: string;
  blob_sha: string;
  source?: string | null;
}

export interface RenderResult {
  prompt_id: string;
  version: string;
  commit: string;
  ref: string | null;
  kind: "text" | "chat";
  rendered?: string | null;
  messages?: ChatMessage[] | null;
  inputs_used: Record<string, unknown>;
}

export interface Version {
  version: string;
  commit: string;
  path: string;
  blob_sha: string;
  author: string;
  committed_at: string;
  message: string;
}

export interface VersionList {
  prompt_id: string;
  ref: string | null;
  commit: string;
  versions: Version[];
}

export interface Diff {
  prompt_id: string;
  from: string;
  to: string;
  diff: string;
}

export interface PartSummary {
  name: string;
  category: string;
  part: string;
  path: string | null;
}

export interface Part {
  name: string;
  category: string;
  path: string;
  source: string;
  ref: string | null;
  commit: string;
}

export interface Finding {
  severity: "error" | "warning" | "info";
  path: string;
  line: number | null;
  rule: string;
  message: string;
}

export interface CheckResult {
  findings: Finding[];
}

export interface Push {
  id: number;
  ref: string;
  old: string | null;
  new: string | null;
  result: "ok" | "rejected" | string;
  messages: string[];
  user: { id: string; name?: string | null; email?: string | null } | null;
  key: { id: string; name?: string | null } | null;
  created_at: string;
}

export interface PushPage {
  pushes: Push[];
  next_cursor: string | null;
}

export interface Log {
  id: number;
  prompt_id: string | null;
  version: string | null;
  inputs: Record<string, unknown> | null;
  output: string | null;
  provider: string | null;
  model: string | null;
  tokens_in: number;
  tokens_out: number;
  cost: number | null;
  latency_ms: number | null;
  created_at: string;
}

export interface LogPage {
  logs: Log[];
  next_cursor: string | null;
}

export interface ApiKey {
  id: string;
  name: string | null;
  scope: "read" | "write" | string;
  scopes?: string[];
  display: string;
  status: string;
  created_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface ApiKeyCreated extends ApiKey {
  key: string;
}

export interface WriteResult {
  commit: string;
  parent: string | null;
  branch: string;
  changed: boolean;
  messages: string[];
  id?: string;
  version?: string | null;
  path: string;
}

// The review document of GET …/compare (docs/review-schema.md)
export interface ReviewIssue {
  level: "error" | "breaking" | "risky" | "info" | string;
  code: string;
  message: string;
  prompt: string | null;
  path: string | null;
}

export interface InputChange {
  kind: string;
  compat: string;
  message: string;
}

export interface InputReport {
  name: string;
  verdict: string;
  before: unknown;
  after: unknown;
  changes: InputChange[];
}

export interface RenderReport {
  label: string;
  inputs: Record<string, unknown>;
  placeholders?: string[];
  before: string | null;
  after: string | null;
  before_error?: string | null;
  after_error?: string | null;
  changed: boolean;
  diff: string;
}

export interface PromptReview {
  id: string;
  status: string;
  path: string | null;
  old_path: string | null;
  kind: string | null;
  content_changed: boolean;
  changed_fields: string[];
  version: {
    old: string | null;
    new: string | null;
    bump: string | null;
    valid: boolean;
    required_bump: string;
    sized_ok: boolean;
    message: string;
  };
  compatibility: string;
  inputs: InputReport[];
  via_parts: string[];
  yaml_diff: string;
  template_diff: string;
  renders: RenderReport[];
}

export interface PartChange {
  name: string;
  status: string;
  path: string | null;
  old_path: string | null;
  diff: string;
  affects: string[];
}

export interface Review {
  schema_version: number;
  base: { rev: string | null; commit: string | null };
  head: { rev: string | null; commit: string | null };
  fail_on: string;
  allow_removals: boolean;
  blocking: boolean;
  blocking_reasons: string[];
  summary: Record<string, number>;
  prompts: PromptReview[];
  parts: PartChange[];
  lint: Finding[];
  issues: ReviewIssue[];
}
