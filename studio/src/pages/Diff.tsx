// A diff between two versions (or refs) of a prompt: side by side and unified.

import * as Tabs from "@radix-ui/react-tabs";
import { useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import { DiffView } from "../components/lazy";
import { ErrorBox, LinkButton, Loading, PageHeader, Pre } from "../components/ui";
import { selectorFor } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { promptUrl } from "../project";
import { usePromptSelection } from "./Prompt";

export const tabClass =
  "rounded-md px-2.5 py-1 text-sm font-medium text-gray-800 data-[state=active]:bg-blue-100 data-[state=active]:text-blue-900 dark:text-gray-200 dark:data-[state=active]:bg-blue-950 dark:data-[state=active]:text-blue-100";

export function Diff() {
  const { project, promptId } = usePromptSelection();
  const [params, setParams] = useSearchParams();
  const from = params.get("from") ?? "";
  const to = params.get("to") || project.default_branch;
  const view = params.get("view") === "unified" ? "unified" : "split";
  const data = useApi(from ? `diff:${project.id}:${promptId}:${from}:${to}` : null, async (signal) => {
    const history = await api.versions(project.id, promptId, null, signal);
    const known = history.versions.map((v) => v.version);
    const [a, b, diff] = await Promise.all([
      api.prompt(project.id, promptId, selectorFor(from, known), signal),
      api.prompt(project.id, promptId, selectorFor(to, known), signal),
      api.diff(project.id, promptId, from, to, signal),
    ]);
    return { a, b, diff };
  });

  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={
          <>
            Diff of <span className="font-mono">{promptId}</span>
          </>
        }
        subtitle={
          <>
            <span className="font-mono">{from || "?"}</span> → <span className="font-mono">{to}</span>
          </>
        }
        actions={<LinkButton to={promptUrl(project, promptId)}>Back to the prompt</LinkButton>}
      />
      {!from ? <p className="text-sm">Pick two versions on the prompt page.</p> : null}
      {data.loading ? <Loading label="Loading both versions…" /> : null}
      {data.error ? <ErrorBox error={data.error} onRetry={data.reload} /> : null}
      {data.data ? (
        data.data.diff.diff === "" ? (
          <p className="text-sm">The two versions have the same content.</p>
        ) : (
          <Tabs.Root
            value={view}
            onValueChange={(v) => {
              const next = new URLSearchParams(params);
              if (v === "unified") next.set("view", "unified");
              else next.delete("view");
              setParams(next, { replace: true });
            }}
          >
            <Tabs.List aria-label="Diff layout" className="mb-2 flex gap-1">
              <Tabs.Trigger value="split" className={tabClass}>
                Side by side
              </Tabs.Trigger>
              <Tabs.Trigger value="unified" className={tabClass}>
                Unified
              </Tabs.Trigger>
            </Tabs.List>
            <Tabs.Content value="split">
              <div className="mb-1 grid grid-cols-2 text-xs font-medium">
                <span className="font-mono">
                  {data.data.a.version} · {data.data.a.path}
                </span>
                <span className="font-mono">
                  {data.data.b.version} · {data.data.b.path}
                </span>
              </div>
              <DiffView mode="split" a={data.data.a.source ?? ""} b={data.data.b.source ?? ""} labelA={`Version ${data.data.a.version}`} labelB={`Version ${data.data.b.version}`} />
            </Tabs.Content>
            <Tabs.Content value="unified" className="flex flex-col gap-3">
              <DiffView mode="unified" a={data.data.a.source ?? ""} b={data.data.b.source ?? ""} labelA={`Version ${data.data.a.version}`} labelB={`Version ${data.data.b.version}`} />
              <details>
                <summary className="cursor-pointer text-sm font-medium">As git prints it</summary>
                <UnifiedText text={data.data.diff.diff} />
              </details>
            </Tabs.Content>
          </Tabs.Root>
        )
      ) : null}
    </div>
  );
}

/** A unified diff text with its + and - lines coloured. */
export function UnifiedText({ text, label = "Unified diff" }: { text: string; label?: string }) {
  return (
    <Pre label={label}>
      {text.split("\n").map((line, i) => {
        const cls = line.startsWith("+") && !line.startsWith("+++")
          ? "bg-green-100 text-green-950 dark:bg-green-950 dark:text-green-100"
          : line.startsWith("-") && !line.startsWith("---")
            ? "bg-red-100 text-red-950 dark:bg-red-950 dark:text-red-100"
            : line.startsWith("@@")
              ? "text-purple-900 dark:text-purple-200"
              : "";
        return (
          <span key={i} className={`block ${cls}`}>
            {line || " "}
          </span>
        );
      })}
    </Pre>
  );
}
