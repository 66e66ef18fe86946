// Edit a prompt or part as a commit: checks as you type (POST …/check), findings at
// their lines, a version-bump helper, commit to this or a new branch; a 412 offers to
// reload. Also: a new prompt from a starter.

import * as Dialog from "@radix-ui/react-dialog";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import { ApiError } from "../api/errors";
import type { Finding, WriteResult } from "../api/types";
import { useAuth } from "../auth";
import { YamlEditor } from "../components/lazy";
import { Badge, Button, ErrorBox, inputClass, Loading, PageHeader, Section } from "../components/ui";
import { shortSha } from "../lib/prompt";
import { bumpVersion, idInYaml, setVersionInYaml, versionInYaml, type Bump } from "../lib/semver";
import { useApi } from "../lib/useApi";
import { projectUrl, promptUrl, useProject } from "../project";

export const STARTERS: { id: string; label: string; text: string }[] = [
  {
    id: "text",
    label: "Text prompt",
    text: `id: my-prompt
version: "0.1.0"
description: What this prompt is for
template: |
  Write a short answer for {{ name }}.
inputs:
  name: {type: string, required: true, description: Who it is for}
examples:
  - {name: Ada}
`,
  },
  {
    id: "chat",
    label: "Chat prompt",
    text: `id: my-chat-prompt
version: "0.1.0"
description: What this prompt is for
messages:
  - role: system
    content: You are a helpful assistant. Answer in {{ language }}.
  - role: user
    content: "{{ question }}"
inputs:
  language: {type: string, default: English, enum: [English, German, French]}
  question: {type: string, required: true}
model: {provider: openai, name: gpt-4o-mini, temperature: 0.2}
examples:
  - {question: What is a prompt registry?}
`,
  },
];

type Target =
  | { kind: "prompt"; id: string }
  | { kind: "part"; name: string }
  | { kind: "new" };

interface Base {
  text: string;
  path: string;
  version: string | null;
  ifMatch: string | null;
  commit: string | null;
}

export function EditPrompt() {
  const { promptId = "" } = useParams();
  return <Editor target={{ kind: "prompt", id: promptId }} />;
}

export function EditPart() {
  const { category = "", name = "" } = useParams();
  return <Editor target={{ kind: "part", name: `${category}/${name}` }} />;
}

export function NewPrompt() {
  return <Editor target={{ kind: "new" }} />;
}

function Editor({ target }: { target: Target }) {
  const project = useProject();
  const { canWrite } = useAuth();
  const [params] = useSearchParams();
  const branch = params.get("branch") || project.default_branch;
  const targetKey = target.kind === "prompt" ? target.id : target.kind === "part" ? target.name : "new";
  const [starter, setStarter] = useState(STARTERS[0]!.id);
  const base = useApi<Base>(`edit:${project.id}:${target.kind}:${targetKey}:${branch}:${starter}`, async (signal) => {
    if (target.kind === "prompt") {
      const p = await api.prompt(project.id, target.id, { ref: branch }, signal);
      return { text: p.source ?? "", path: p.path, version: p.version, ifMatch: p.blob_sha, commit: p.commit };
    }
    if (target.kind === "part") {
      const part = await api.part(project.id, target.name, branch, signal);
      return { text: part.source, path: part.path, version: null, ifMatch: part.commit, commit: part.commit };
    }
    const s = STARTERS.find((x) => x.id === starter) ?? STARTERS[0]!;
    return { text: s.text, path: "", version: null, ifMatch: null, commit: null };
  });

  if (!canWrite(project)) {
    return <ErrorBox error={new Error("Editing needs a key with the write scope.")} title="Not allowed" />;
  }
  const title =
    target.kind === "prompt" ? (
      <>
        Edit <span className="font-mono">{target.id}</span>
      </>
    ) : target.kind === "part" ? (
      <>
        Edit part <span className="font-mono">{target.name}</span>
      </>
    ) : (
      "New prompt"
    );
  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={title}
        subtitle={
          <>
            on branch <span className="font-mono">{branch}</span>
            {base.data?.commit ? <> @ {shortSha(base.data.commit)}</> : null}
          </>
        }
      />
      {target.kind === "new" ? (
        <div className="flex flex-wrap gap-2" role="group" aria-label="Starter">
          {STARTERS.map((s) => (
            <Button key={s.id} variant={s.id === starter ? "primary" : "secondary"} aria-pressed={s.id === starter} onClick={() => setStarter(s.id)}>
              Start from: {s.label}
            </Button>
          ))}
        </div>
      ) : null}
      {base.loading ? <Loading label="Loading the file…" /> : null}
      {base.error ? <ErrorBox error={base.error} onRetry={base.reload} /> : null}
      {base.data ? <EditorBody key={`${base.data.commit}:${base.data.text.length}:${starter}`} target={target} base={base.data} branch={branch} onReload={base.reload} /> : null}
    </div>
  );
}

const CHECK_DELAY_MS = 400;

function EditorBody({ target, base, branch, onReload }: { target: Target; base: Base; branch: string; onReload: () => void }) {
  const project = useProject();
  const navigate = useNavigate();
  const [text, setText] = useState(base.text);
  const [findings, setFindings] = useState<Finding[]>([]);
  const [checkState, setCheckState] = useState<"idle" | "checking" | "done" | "failed">("idle");
  const [checkError, setCheckError] = useState<string | null>(null);
  const [commitError, setCommitError] = useState<Error | null>(null);
  const [stale, setStale] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<WriteResult | null>(null);
  const [mode, setMode] = useState<"current" | "new">("current");
  const [newBranch, setNewBranch] = useState("");
  const [message, setMessage] = useState("");
  const ids = { msg: useId(), branch: useId() };

  const path = useMemo(() => {
    if (target.kind !== "new") return base.path;
    const id = idInYaml(text);
    return `prompts/${id ?? "new"}.yaml`;
  }, [target.kind, base.path, text]);
  const version = target.kind === "part" ? null : versionInYaml(text);
  const commitBranch = mode === "new" ? newBranch.trim() : branch;

  // checks as you type: debounced, the latest answer wins
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    const timer = window.setTimeout(() => {
      setCheckState("checking");
      api.check(project.id, { path, content: text, branch }).then(
        (r) => {
          if (n !== seq.current) return;
          setFindings(r.findings);
          setCheckError(null);
          setCheckState("done");
        },
        (e: unknown) => {
          if (n !== seq.current) return;
          setCheckError(e instanceof Error ? e.message : String(e));
          setCheckState("failed");
        },
      );
    }, CHECK_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [project.id, path, text, branch]);

  const bump = (level: Bump) => {
    const from = base.version ?? version;
    if (!from) return;
    const next = bumpVersion(from, level);
    if (next) setText(setVersionInYaml(text, next));
  };

  const commit = async () => {
    setCommitError(null);
    if (mode === "new" && !commitBranch) {
      setCommitError(new Error("Name the new branch."));
      return;
    }
    setBusy(true);
    try {
      const body = { branch: commitBranch, ...(message.trim() ? { message: message.trim() } : {}) };
      // to another branch the base is that branch's (the default branch's for a new one)
      const ifMatch = mode === "current" ? (base.ifMatch ?? undefined) : undefined;
      let result: WriteResult;
      if (target.kind === "prompt") result = await api.updatePrompt(project.id, target.id, { ...body, yaml: text }, ifMatch);
      else if (target.kind === "part") result = await api.updatePart(project.id, target.name, { ...body, content: text }, ifMatch);
      else result = await api.createPrompt(project.id, { ...body, yaml: text });
      setDone(result);
    } catch (e) {
      if (e instanceof ApiError && e.isStale) setStale(true);
      else setCommitError(e instanceof Error ? e : new Error(String(e)));
      if (e instanceof ApiError && e.findings.length) setFindings(e.findings);
    } finally {
      setBusy(false);
    }
  };

  const errors = findings.filter((f) => f.severity === "error");
  const warnings = findings.filter((f) => f.severity !== "error");

  if (done) {
    const id = target.kind === "prompt" ? target.id : (done.id ?? idInYaml(text) ?? "");
    const view =
      target.kind === "part"
        ? `${projectUrl(project, `/parts/${target.name}`)}?ref=${encodeURIComponent(done.branch)}`
        : promptUrl(project, id, "", { ref: done.branch === project.default_branch ? null : done.branch });
    return (
      <div role="status" className="rounded-lg border border-green-400 bg-green-50 p-4 text-green-950 dark:border-green-700 dark:bg-green-950 dark:text-green-50" data-testid="commit-done">
        <p className="font-semibold">{done.changed ? "Committed" : "Nothing to commit: the content is already there"}</p>
        <p className="mt-1 text-sm">
          <span className="font-mono">{shortSha(done.commit)}</span> on <span className="font-mono">{done.branch}</span>
          {done.version ? <> · version {done.version}</> : null}
        </p>
        {done.messages.length ? <pre className="mt-2 whitespace-pre-wrap font-mono text-xs">{done.messages.join("\n")}</pre> : null}
        <div className="mt-3 flex gap-2">
          <Button variant="primary" onClick={() => navigate(view)}>
            View it
          </Button>
          <Button onClick={() => navigate(`${projectUrl(project, "/activity")}?ref=${encodeURIComponent(done.branch)}`)}>Activity</Button>
        </div>
      </div>
    );
  }

  return (
    <div className="grid gap-4 lg:grid-cols-[1fr_22rem]">
      <div className="flex min-w-0 flex-col gap-2">
        <p className="font-mono text-xs text-gray-700 dark:text-gray-300">{path}</p>
        <YamlEditor value={text} onChange={setText} findings={findings} label={`Editor for ${path}`} language={target.kind === "part" ? "text" : "yaml"} />
      </div>
      <div className="flex flex-col gap-4">
        <Section title="Checks" id="ed-checks">
          <p className="mb-2 text-xs text-gray-700 dark:text-gray-300" aria-live="polite" data-testid="check-state">
            {checkState === "checking" ? "Checking…" : checkState === "failed" ? `Checks did not run: ${checkError}` : checkState === "done" ? (errors.length || warnings.length ? `${errors.length} errors, ${warnings.length} warnings` : "No problems") : "Waiting…"}
          </p>
          <ul className="flex flex-col gap-1 text-sm" data-testid="findings">
            {findings.map((f, i) => (
              <li key={i}>
                <Badge tone={f.severity === "error" ? "red" : f.severity === "warning" ? "amber" : "blue"}>{f.severity}</Badge>{" "}
                <span className="font-mono text-xs">line {f.line ?? "?"}</span> {f.message} <span className="font-mono text-xs">[{f.rule}]</span>
              </li>
            ))}
          </ul>
        </Section>
        {target.kind !== "part" ? (
          <Section title="Version" id="ed-version">
            <p className="text-sm">
              {base.version ? (
                <>
                  was <span className="font-mono">{base.version}</span>,{" "}
                </>
              ) : null}
              now <span className="font-mono" data-testid="edit-version">{version ?? "—"}</span>
            </p>
            <div className="mt-2 flex flex-wrap gap-2">
              {(["patch", "minor", "major"] as Bump[]).map((level) => {
                const next = base.version ? bumpVersion(base.version, level) : version ? bumpVersion(version, level) : null;
                return (
                  <Button key={level} onClick={() => bump(level)} disabled={!next} data-testid={`bump-${level}`}>
                    {level} → {next ?? "?"}
                  </Button>
                );
              })}
            </div>
          </Section>
        ) : null}
        <Section title="Commit" id="ed-commit">
          <form
            className="flex flex-col gap-3"
            aria-label="Commit"
            onSubmit={(e) => {
              e.preventDefault();
              void commit();
            }}
          >
            <fieldset className="flex flex-col gap-1 text-sm">
              <legend className="mb-1 text-xs font-medium">Branch</legend>
              <label className="flex items-center gap-2">
                <input type="radio" name="branch-mode" checked={mode === "current"} onChange={() => setMode("current")} />
                this branch (<span className="font-mono">{branch}</span>)
              </label>
              <label className="flex items-center gap-2">
                <input type="radio" name="branch-mode" checked={mode === "new"} onChange={() => setMode("new")} />a new branch (from{" "}
                {project.default_branch})
              </label>
            </fieldset>
            {mode === "new" ? (
              <div className="flex flex-col gap-1">
                <label htmlFor={ids.branch} className="text-xs font-medium">New branch name</label>
                <input id={ids.branch} className={`${inputClass} font-mono`} value={newBranch} onChange={(e) => setNewBranch(e.target.value)} placeholder="e.g. proposal/friendlier" />
              </div>
            ) : null}
            <div className="flex flex-col gap-1">
              <label htmlFor={ids.msg} className="text-xs font-medium">Commit message</label>
              <input id={ids.msg} className={inputClass} value={message} onChange={(e) => setMessage(e.target.value)} placeholder="Say why" />
            </div>
            {commitError ? <ErrorBox error={commitError} title={commitError instanceof ApiError && commitError.code === "invalid_prompt" ? "The checks refused the commit" : undefined} /> : null}
            <Button type="submit" variant="primary" disabled={busy} data-testid="commit-button">
              {busy ? "Committing…" : errors.length ? "Commit (the checks will refuse it)" : "Commit"}
            </Button>
          </form>
        </Section>
      </div>
      <Dialog.Root open={stale} onOpenChange={setStale}>
        <Dialog.Portal>
          <Dialog.Overlay className="fixed inset-0 z-40 bg-black/40" />
          <Dialog.Content className="fixed left-1/2 top-24 z-50 w-[min(30rem,calc(100vw-2rem))] -translate-x-1/2 rounded-lg border border-gray-200 bg-white p-4 shadow-xl dark:border-gray-700 dark:bg-slate-900" data-testid="stale-dialog">
            <Dialog.Title className="font-semibold">Someone else changed it</Dialog.Title>
            <Dialog.Description className="mt-2 text-sm">
              <span className="font-mono">{branch}</span> moved since you opened this file, so your commit was not made. Reload the current version (your text is copied to the clipboard first), or keep editing.
            </Dialog.Description>
            <div className="mt-4 flex gap-2">
              <Button
                variant="primary"
                onClick={() => {
                  void navigator.clipboard?.writeText(text).catch(() => undefined);
                  setStale(false);
                  onReload();
                }}
              >
                Reload
              </Button>
              <Dialog.Close asChild>
                <Button>Keep editing</Button>
              </Dialog.Close>
            </div>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>
    </div>
  );
}
