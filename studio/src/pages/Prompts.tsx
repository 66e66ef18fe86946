// Prompts at a ref: ref picker, filters (id/description, tag, folder), a virtualized
// list that stays responsive with 10,000 prompts.

import { useVirtualizer } from "@tanstack/react-virtual";
import { useId, useMemo, useRef } from "react";
import { Link, useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import type { PromptSummary } from "../api/types";
import { RefPicker } from "../components/RefPicker";
import { Badge, Empty, ErrorBox, inputClass, Loading, PageHeader, selectClass } from "../components/ui";
import { shortSha } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { promptUrl, useProject } from "../project";

export function folderOf(path: string): string {
  const rel = path.replace(/^prompts\//, "");
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

const ROW = 64;

export function Prompts() {
  const project = useProject();
  const [params, setParams] = useSearchParams();
  const ref = params.get("ref") || project.default_branch;
  const q = params.get("q") ?? "";
  const tag = params.get("tag") ?? "";
  const folder = params.get("folder") ?? "";
  const list = useApi(`prompts:${project.id}:${ref}`, (signal) => api.prompts(project.id, ref, signal));
  const ids = { q: useId(), tag: useId(), folder: useId() };

  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: name !== "ref" });
  };

  const all = useMemo(() => list.data?.prompts ?? [], [list.data]);
  const tags = useMemo(() => [...new Set(all.flatMap((p) => p.tags ?? []))].sort(), [all]);
  const folders = useMemo(() => [...new Set(all.map((p) => folderOf(p.path)))].filter(Boolean).sort(), [all]);
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return all.filter(
      (p) =>
        (!needle || p.id.toLowerCase().includes(needle) || (p.description ?? "").toLowerCase().includes(needle)) &&
        (!tag || (p.tags ?? []).includes(tag)) &&
        (!folder || folderOf(p.path) === folder || folderOf(p.path).startsWith(`${folder}/`)),
    );
  }, [all, q, tag, folder]);

  return (
    <div>
      <PageHeader
        title="Prompts"
        subtitle={
          list.data ? (
            <>
              {all.length} prompts at <span className="font-mono">{ref}</span> ({shortSha(list.data.commit)})
            </>
          ) : null
        }
      />
      <div className="mb-3 grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <RefPicker project={project} value={ref} onChange={(r) => set("ref", r === project.default_branch ? "" : r)} />
        <div className="flex flex-col gap-1">
          <label htmlFor={ids.q} className="text-xs font-medium text-gray-700 dark:text-gray-300">
            Filter by id or description
          </label>
          <input id={ids.q} type="search" className={inputClass} value={q} onChange={(e) => set("q", e.target.value)} placeholder="e.g. support" />
        </div>
        <div className="flex flex-col gap-1">
          <label htmlFor={ids.tag} className="text-xs font-medium text-gray-700 dark:text-gray-300">
            Tag
          </label>
          <select id={ids.tag} className={selectClass} value={tag} onChange={(e) => set("tag", e.target.value)}>
            <option value="">Any tag</option>
            {tags.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div className="flex flex-col gap-1">
          <label htmlFor={ids.folder} className="text-xs font-medium text-gray-700 dark:text-gray-300">
            Folder
          </label>
          <select id={ids.folder} className={selectClass} value={folder} onChange={(e) => set("folder", e.target.value)}>
            <option value="">Any folder</option>
            {folders.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </div>
      </div>
      {list.loading ? <Loading label="Loading prompts…" /> : null}
      {list.error ? <ErrorBox error={list.error} onRetry={list.reload} /> : null}
      {list.data && shown.length === 0 ? (
        <Empty>{all.length === 0 ? "No prompts at this ref yet." : "No prompt matches these filters."}</Empty>
      ) : null}
      {list.data && shown.length > 0 ? <PromptRows rows={shown} refName={ref} isDefault={ref === project.default_branch} /> : null}
    </div>
  );
}

function PromptRows({ rows, refName, isDefault }: { rows: PromptSummary[]; refName: string; isDefault: boolean }) {
  const project = useProject();
  const scroller = useRef<HTMLDivElement>(null);
  // eslint-disable-next-line react-hooks/incompatible-library -- TanStack Virtual returns functions by design
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 8 });
  return (
    <div
      ref={scroller}
      tabIndex={0}
      role="region"
      aria-label={`Prompts (${rows.length})`}
      className="h-[calc(100vh-19rem)] min-h-80 overflow-auto rounded-lg border border-gray-200 dark:border-gray-700"
      data-testid="prompt-list"
    >
      <ul style={{ height: virtual.getTotalSize(), position: "relative" }} aria-label="Prompts">
        {virtual.getVirtualItems().map((item) => {
          const p = rows[item.index]!;
          return (
            <li
              key={p.id}
              className="absolute left-0 right-0 border-b border-gray-100 dark:border-gray-800"
              style={{ top: 0, height: item.size, transform: `translateY(${item.start}px)` }}
            >
              <Link
                to={promptUrl(project, p.id, "", { ref: isDefault ? null : refName })}
                className="flex h-full flex-col justify-center px-3 hover:bg-gray-50 focus-visible:bg-blue-50 dark:hover:bg-slate-900 dark:focus-visible:bg-blue-950"
                data-testid="prompt-row"
              >
                <span className="flex flex-wrap items-center gap-2">
                  <span className="font-mono text-sm font-semibold">{p.id}</span>
                  <Badge tone="blue">{p.version}</Badge>
                  {p.kind ? <Badge tone={p.kind === "chat" ? "purple" : "gray"}>{p.kind}</Badge> : null}
                  <span className="hidden font-mono text-xs text-gray-700 sm:inline dark:text-gray-300">{p.path}</span>
                </span>
                <span className="truncate text-sm text-gray-700 dark:text-gray-300">{p.description ?? ""}</span>
              </Link>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
