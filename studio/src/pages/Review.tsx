// Review: base and head → the compare API's review, blocking verdict first.

import { useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import type { PromptReview, Review as ReviewT } from "../api/types";
import { RefPicker, useRefs } from "../components/RefPicker";
import { Badge, Empty, ErrorBox, Loading, PageHeader, Section, type Tone } from "../components/ui";
import { shortSha } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { useProject } from "../project";
import { UnifiedText } from "./Diff";

const LEVEL_TONE: Record<string, Tone> = { error: "red", breaking: "red", risky: "amber", info: "blue", compatible: "green", unchanged: "gray" };

export function Review() {
  const project = useProject();
  const [params, setParams] = useSearchParams();
  const refs = useRefs(project);
  const base = params.get("base") || project.default_branch;
  const firstOther = refs.data?.refs.find((r) => r.kind === "branch" && r.name !== base)?.name ?? "";
  const head = params.get("head") || firstOther;
  const review = useApi(head ? `review:${project.id}:${base}:${head}` : null, (signal) => api.compare(project.id, base, head, signal));
  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    next.set("base", name === "base" ? value : base);
    next.set("head", name === "head" ? value : head);
    setParams(next);
  };
  return (
    <div className="flex flex-col gap-4">
      <PageHeader title="Review" subtitle="What merging head into base would change, as a reviewer needs to read it." />
      <div className="flex flex-wrap gap-3">
        <RefPicker project={project} label="Base" value={base} onChange={(v) => set("base", v)} />
        <RefPicker project={project} label="Head" value={head} onChange={(v) => set("head", v)} allowEmpty={head ? undefined : "Pick a branch"} />
      </div>
      {!head && refs.data ? <Empty>Push a branch to review it against {base}.</Empty> : null}
      {review.loading ? <Loading label="Reviewing…" /> : null}
      {review.error ? <ErrorBox error={review.error} onRetry={review.reload} /> : null}
      {review.data ? <ReviewBody r={review.data} /> : null}
    </div>
  );
}

function ReviewBody({ r }: { r: ReviewT }) {
  const s = r.summary;
  return (
    <div className="flex flex-col gap-4">
      <div
        role="status"
        data-testid="review-verdict"
        className={`rounded-lg border p-4 ${r.blocking ? "border-red-400 bg-red-50 text-red-950 dark:border-red-700 dark:bg-red-950 dark:text-red-50" : "border-green-400 bg-green-50 text-green-950 dark:border-green-700 dark:bg-green-950 dark:text-green-50"}`}
      >
        <p className="text-lg font-semibold">{r.blocking ? "Blocking: do not merge as is" : "Not blocking"}</p>
        <p className="text-sm">
          {r.base.rev} ({shortSha(r.base.commit)}) ← {r.head.rev} ({shortSha(r.head.commit)}) · fails on {r.fail_on}
        </p>
        {r.blocking_reasons.length ? (
          <ul className="mt-2 list-disc pl-5 text-sm">
            {r.blocking_reasons.map((reason, i) => (
              <li key={i}>{reason}</li>
            ))}
          </ul>
        ) : null}
        <p className="mt-2 text-sm">
          {s.prompts ?? 0} prompts: {s.added ?? 0} added, {s.modified ?? 0} modified, {s.removed ?? 0} removed, {s.renamed ?? 0} renamed,{" "}
          {s.affected ?? 0} affected, {s.invalid ?? 0} invalid · {s.breaking ?? 0} breaking, {s.risky ?? 0} risky · {s.parts_changed ?? 0} parts changed ·
          lint {s.lint_errors ?? 0} errors, {s.lint_warnings ?? 0} warnings
        </p>
      </div>

      {r.issues.length ? (
        <Section title="Issues" id="rv-issues">
          <ul className="flex flex-col gap-1 text-sm">
            {r.issues.map((i, n) => (
              <li key={n} className="flex flex-wrap items-baseline gap-2">
                <Badge tone={LEVEL_TONE[i.level] ?? "gray"}>{i.level}</Badge>
                <span className="font-mono text-xs">{i.code}</span>
                {i.prompt ? <span className="font-mono">{i.prompt}</span> : null}
                <span>{i.message}</span>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}

      {r.prompts.length === 0 ? <Empty>No prompt changed.</Empty> : r.prompts.map((p) => <PromptCard key={p.id} p={p} />)}

      {r.parts.length ? (
        <Section title="Parts changed" id="rv-parts">
          <div className="flex flex-col gap-3">
            {r.parts.map((part) => (
              <div key={part.name}>
                <p className="text-sm">
                  <span className="font-mono font-semibold">{part.name}</span> <Badge>{part.status}</Badge> affects {part.affects.join(", ") || "no prompt"}
                </p>
                {part.diff ? <UnifiedText text={part.diff} label={`Diff of ${part.name}`} /> : null}
              </div>
            ))}
          </div>
        </Section>
      ) : null}

      {r.lint.length ? (
        <Section title="Lint findings on head" id="rv-lint">
          <ul className="text-sm">
            {r.lint.map((f, i) => (
              <li key={i}>
                <Badge tone={f.severity === "error" ? "red" : "amber"}>{f.severity}</Badge>{" "}
                <span className="font-mono">
                  {f.path}:{f.line ?? "?"}
                </span>{" "}
                {f.message} <span className="font-mono text-xs">[{f.rule}]</span>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
    </div>
  );
}

function PromptCard({ p }: { p: PromptReview }) {
  const v = p.version;
  return (
    <Section title={`${p.id}`} id={`rv-${p.id}`} actions={<><Badge>{p.status}</Badge><Badge tone={LEVEL_TONE[p.compatibility] ?? "gray"}>{p.compatibility}</Badge></>}>
      <div className="flex flex-col gap-3 text-sm" data-testid={`review-prompt-${p.id}`}>
        <p>
          Version <span className="font-mono">{v.old ?? "—"}</span> → <span className="font-mono">{v.new ?? "—"}</span>
          {v.bump ? <> ({v.bump} bump)</> : null}
          {!v.valid || !v.sized_ok ? (
            <>
              {" "}
              <Badge tone="red">version check failed</Badge>
            </>
          ) : (
            <>
              {" "}
              <Badge tone="green">version ok</Badge>
            </>
          )}
          {v.message ? <span className="block text-gray-800 dark:text-gray-200">{v.message}</span> : null}
        </p>
        {p.changed_fields.length ? <p>Changed: {p.changed_fields.join(", ")}</p> : null}
        {p.via_parts.length ? <p>Through parts: {p.via_parts.join(", ")}</p> : null}
        {p.inputs.length ? (
          <div>
            <h3 className="font-semibold">Input compatibility</h3>
            <ul className="mt-1 flex flex-col gap-1">
              {p.inputs.map((i) => (
                <li key={i.name}>
                  <span className="font-mono">{i.name}</span> <Badge tone={LEVEL_TONE[i.verdict] ?? "gray"}>{i.verdict}</Badge>{" "}
                  {i.changes.map((c) => c.message).join("; ")}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {p.yaml_diff ? (
          <details>
            <summary className="cursor-pointer font-medium">File diff</summary>
            <UnifiedText text={p.yaml_diff} label={`Diff of ${p.id}`} />
          </details>
        ) : null}
        {p.renders.length ? (
          <div>
            <h3 className="font-semibold">Rendered before / after</h3>
            {p.renders.map((r) => (
              <div key={r.label} className="mt-2">
                <p className="text-xs font-medium">
                  {r.label} {r.changed ? <Badge tone="amber">changed</Badge> : <Badge>same</Badge>}
                </p>
                {r.before_error ? <p className="text-red-800 dark:text-red-300">before: {r.before_error}</p> : null}
                {r.after_error ? <p className="text-red-800 dark:text-red-300">after: {r.after_error}</p> : null}
                {r.changed && r.diff ? <UnifiedText text={r.diff} label={`Rendered diff, ${r.label}`} /> : null}
              </div>
            ))}
          </div>
        ) : null}
      </div>
    </Section>
  );
}
