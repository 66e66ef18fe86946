// Execution logs of a prompt (or all): tokens, cost, latency, model; newest first.

import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import type { Log } from "../api/types";
import { Button, Empty, ErrorBox, inputClass, Loading, PageHeader } from "../components/ui";
import { formatDate } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { useProject } from "../project";

export function Logs() {
  const project = useProject();
  const [params, setParams] = useSearchParams();
  const promptId = params.get("prompt_id") ?? "";
  const inputId = useId();
  const [draft, setDraft] = useState(promptId);
  const first = useApi(`logs:${project.id}:${promptId}`, (signal) => api.logs(project.id, { prompt_id: promptId || undefined }, signal));
  const [more, setMore] = useState<{ key: string; logs: Log[]; cursor: string | null } | null>(null);
  const key = `${project.id}:${promptId}`;
  const extra = more?.key === key ? more : null;
  const logs = [...(first.data?.logs ?? []), ...(extra?.logs ?? [])];
  const cursor = extra ? extra.cursor : (first.data?.next_cursor ?? null);

  const loadMore = async () => {
    if (!cursor) return;
    const page = await api.logs(project.id, { prompt_id: promptId || undefined, cursor });
    setMore({ key, logs: [...(extra?.logs ?? []), ...page.logs], cursor: page.next_cursor });
  };

  return (
    <div className="flex flex-col gap-4">
      <PageHeader title="Logs" subtitle="Executions your apps recorded (POST …/logs), newest first." />
      <form
        className="flex flex-wrap items-end gap-2"
        aria-label="Filter logs"
        onSubmit={(e) => {
          e.preventDefault();
          const next = new URLSearchParams(params);
          if (draft.trim()) next.set("prompt_id", draft.trim());
          else next.delete("prompt_id");
          setParams(next);
        }}
      >
        <div className="flex flex-col gap-1">
          <label htmlFor={inputId} className="text-xs font-medium text-gray-700 dark:text-gray-300">
            Prompt id
          </label>
          <input id={inputId} className={inputClass} value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="all prompts" />
        </div>
        <Button type="submit">Filter</Button>
      </form>
      {first.loading ? <Loading label="Loading logs…" /> : null}
      {first.error ? <ErrorBox error={first.error} onRetry={first.reload} /> : null}
      {first.data && logs.length === 0 ? <Empty>No executions logged{promptId ? ` for ${promptId}` : ""}.</Empty> : null}
      {logs.length ? (
        <div className="overflow-x-auto rounded-lg border border-gray-200 dark:border-gray-700" tabIndex={0} role="region" aria-label="Execution logs">
          <table className="w-full min-w-[44rem] text-left text-sm">
            <thead className="bg-gray-50 text-xs text-gray-700 dark:bg-slate-900 dark:text-gray-300">
              <tr>
                <th scope="col" className="p-2">When</th>
                <th scope="col" className="p-2">Prompt</th>
                <th scope="col" className="p-2">Model</th>
                <th scope="col" className="p-2 text-right">Tokens in/out</th>
                <th scope="col" className="p-2 text-right">Cost</th>
                <th scope="col" className="p-2 text-right">Latency</th>
              </tr>
            </thead>
            <tbody>
              {logs.map((l) => (
                <tr key={l.id} className="border-t border-gray-100 align-top dark:border-gray-800">
                  <td className="p-2 text-xs">{formatDate(l.created_at)}</td>
                  <td className="p-2 font-mono">
                    {l.prompt_id ?? "—"} {l.version ?? ""}
                  </td>
                  <td className="p-2">{[l.provider, l.model].filter(Boolean).join(" / ") || "—"}</td>
                  <td className="p-2 text-right font-mono">
                    {l.tokens_in} / {l.tokens_out}
                  </td>
                  <td className="p-2 text-right font-mono">{l.cost === null ? "—" : `$${l.cost.toFixed(4)}`}</td>
                  <td className="p-2 text-right font-mono">{l.latency_ms === null ? "—" : `${l.latency_ms} ms`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {cursor ? (
        <div>
          <Button onClick={() => void loadMore()}>Older logs</Button>
        </div>
      ) : null}
    </div>
  );
}
