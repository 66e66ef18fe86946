// Activity: the push audit log — who moved which ref from what to what, and when.

import { useState } from "react";
import { useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import type { Push } from "../api/types";
import { RefPicker } from "../components/RefPicker";
import { Badge, Button, Empty, ErrorBox, Loading, PageHeader } from "../components/ui";
import { formatDate, shortSha } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { useProject } from "../project";

export function Activity() {
  const project = useProject();
  const [params, setParams] = useSearchParams();
  const ref = params.get("ref") ?? "";
  const first = useApi(`pushes:${project.id}:${ref}`, (signal) => api.pushes(project.id, { ref: ref || undefined }, signal));
  const [more, setMore] = useState<{ key: string; pushes: Push[]; cursor: string | null } | null>(null);
  const key = `${project.id}:${ref}`;
  const extra = more?.key === key ? more : null;
  const pushes = [...(first.data?.pushes ?? []), ...(extra?.pushes ?? [])];
  const cursor = extra ? extra.cursor : (first.data?.next_cursor ?? null);
  const [loadingMore, setLoadingMore] = useState(false);

  const loadMore = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await api.pushes(project.id, { ref: ref || undefined, cursor });
      setMore({ key, pushes: [...(extra?.pushes ?? []), ...page.pushes], cursor: page.next_cursor });
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <div className="flex flex-col gap-4">
      <PageHeader title="Activity" subtitle="Every push and API write, accepted or rejected, newest first." />
      <RefPicker
        project={project}
        label="Only this ref"
        value={ref}
        allowEmpty="All refs"
        onChange={(r) => {
          const next = new URLSearchParams(params);
          if (r) next.set("ref", r);
          else next.delete("ref");
          setParams(next);
        }}
      />
      {first.loading ? <Loading label="Loading the audit log…" /> : null}
      {first.error ? <ErrorBox error={first.error} onRetry={first.reload} /> : null}
      {first.data && pushes.length === 0 ? <Empty>No pushes{ref ? ` to ${ref}` : ""} yet.</Empty> : null}
      <ol className="flex flex-col gap-2" aria-label="Pushes" data-testid="activity-list">
        {pushes.map((p) => (
          <li key={p.id} className="rounded-lg border border-gray-200 p-3 text-sm dark:border-gray-700" data-testid="push-row">
            <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
              <Badge tone={p.result === "ok" ? "green" : "red"}>{p.result === "ok" ? "accepted" : p.result}</Badge>
              <span className="font-mono font-semibold">{p.ref.replace(/^refs\/(heads|tags)\//, "")}</span>
              <span className="font-mono text-xs">
                {p.old ? shortSha(p.old) : "(created)"} → {p.new ? shortSha(p.new) : "(deleted)"}
              </span>
              <span>{p.user?.name || p.user?.email || (p.key ? `key ${p.key.name || p.key.id}` : "local")}</span>
              <span className="text-xs text-gray-700 dark:text-gray-300">{formatDate(p.created_at)}</span>
            </div>
            {p.messages.length ? (
              <pre className="mt-2 overflow-x-auto whitespace-pre-wrap font-mono text-xs text-gray-800 dark:text-gray-200">{p.messages.join("\n")}</pre>
            ) : null}
          </li>
        ))}
      </ol>
      {cursor ? (
        <div>
          <Button onClick={() => void loadMore()} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Older pushes"}
          </Button>
        </div>
      ) : null}
    </div>
  );
}
