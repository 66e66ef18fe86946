// One prompt at a ref or version: inputs, model, metadata, parts, source, versions,
// a diff picker and copyable fetch snippets for exactly this version.

import * as Tabs from "@radix-ui/react-tabs";
import { useId, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import type { Prompt as PromptT, Version } from "../api/types";
import { useAuth } from "../auth";
import { CodeView } from "../components/lazy";
import { RefPicker, useRefs } from "../components/RefPicker";
import { Badge, CopyButton, ErrorBox, LinkButton, Loading, PageHeader, Pre, Section, selectClass } from "../components/ui";
import { formatDate, includedParts, sampleInputs, shortSha, snippets } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { projectUrl, promptUrl, useProject } from "../project";

export function usePromptSelection() {
  const project = useProject();
  const { promptId = "" } = useParams();
  const [params] = useSearchParams();
  const version = params.get("version");
  const ref = version ? null : params.get("ref") || project.default_branch;
  return { project, promptId, version, ref, params };
}

export function Prompt() {
  const { project, promptId, version, ref } = usePromptSelection();
  const navigate = useNavigate();
  const { canWrite } = useAuth();
  const refs = useRefs(project);
  const prompt = useApi(`prompt:${project.id}:${promptId}:${ref}:${version}`, (signal) =>
    api.prompt(project.id, promptId, { ref, version }, signal),
  );
  const historyRef = ref ?? project.default_branch;
  const versions = useApi(`versions:${project.id}:${promptId}:${historyRef}`, (signal) =>
    api.versions(project.id, promptId, historyRef, signal),
  );

  if (prompt.loading) return <Loading label="Loading the prompt…" />;
  if (prompt.error || !prompt.data) return <ErrorBox error={prompt.error ?? new Error("no prompt")} onRetry={prompt.reload} />;
  const p = prompt.data;
  const sel = version ? { version } : { ref: ref === project.default_branch ? null : ref };
  const onBranch = refs.data?.refs.some((r) => r.kind === "branch" && r.name === ref) ?? ref === project.default_branch;

  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={
          <span className="flex flex-wrap items-center gap-2">
            <span className="font-mono">{p.id}</span>
            <Badge tone="blue">{p.version}</Badge>
            <Badge tone={p.kind === "chat" ? "purple" : "gray"}>{p.kind}</Badge>
          </span>
        }
        subtitle={
          <>
            <p>{p.description ?? "No description."}</p>
            <p className="mt-1 font-mono text-xs">
              {p.path} · {p.ref ? `${p.ref} @ ` : ""}
              {shortSha(p.commit)}
            </p>
          </>
        }
        actions={
          <>
            <LinkButton variant="primary" to={promptUrl(project, p.id, "/play", sel)}>
              Playground
            </LinkButton>
            <LinkButton to={promptUrl(project, p.id, "/compare")}>Compare</LinkButton>
            <LinkButton to={`${projectUrl(project, "/logs")}?prompt_id=${encodeURIComponent(p.id)}`}>Logs</LinkButton>
            {canWrite(project) ? (
              <LinkButton to={promptUrl(project, p.id, "/edit", { branch: onBranch && ref ? ref : project.default_branch })} data-testid="edit-button">
                Edit
              </LinkButton>
            ) : null}
          </>
        }
      />
      <div className="flex flex-wrap items-end gap-3">
        <RefPicker
          project={project}
          value={ref ?? ""}
          allowEmpty={version ? `version ${version}` : undefined}
          onChange={(r) => navigate(promptUrl(project, p.id, "", { ref: r && r !== project.default_branch ? r : null }))}
        />
        <VersionPicker versions={versions.data?.versions ?? []} value={version ?? ""} onChange={(v) => navigate(promptUrl(project, p.id, "", v ? { version: v } : {}))} />
      </div>

      <div className="grid gap-4 lg:grid-cols-2">
        <Section title="Inputs" id="inputs-h">
          <InputsTable prompt={p} />
        </Section>
        <div className="flex min-w-0 flex-col gap-4">
          <Section title="Model" id="model-h">
            {p.model ? <KeyValues data={p.model} /> : <p className="text-sm">No model configuration.</p>}
          </Section>
          <Section title="Metadata" id="meta-h">
            {p.metadata ? <KeyValues data={p.metadata} /> : <p className="text-sm">No metadata.</p>}
          </Section>
          <Section title="Parts it includes" id="parts-h">
            <PartsList prompt={p} refName={ref} />
          </Section>
        </div>
      </div>

      <Section title="Source" id="source-h" actions={p.source ? <CopyButton text={p.source} label="Copy YAML" /> : null}>
        {p.source ? <CodeView value={p.source} label={`Source of ${p.path}`} /> : <p className="text-sm">The server did not send the source.</p>}
      </Section>

      <Section title="Versions" id="versions-h">
        {versions.loading ? <Loading /> : null}
        {versions.error ? <ErrorBox error={versions.error} onRetry={versions.reload} /> : null}
        {versions.data ? <Timeline versions={versions.data.versions} current={p.version} /> : null}
      </Section>

      <Section title="Use this version" id="use-h">
        <Snippets prompt={p} />
      </Section>
    </div>
  );
}

function VersionPicker({ versions, value, onChange }: { versions: Version[]; value: string; onChange: (v: string) => void }) {
  const id = useId();
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-xs font-medium text-gray-700 dark:text-gray-300">
        Version
      </label>
      <select id={id} className={`${selectClass} min-w-32`} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Latest at the ref</option>
        {versions.map((v) => (
          <option key={v.commit + v.version} value={v.version}>
            {v.version}
          </option>
        ))}
      </select>
    </div>
  );
}

function InputsTable({ prompt }: { prompt: PromptT }) {
  const rows = Object.entries(prompt.inputs);
  if (rows.length === 0) return <p className="text-sm">No inputs.</p>;
  return (
    <div className="overflow-x-auto" tabIndex={0} role="region" aria-label="Inputs table">
      <table className="w-full text-left text-sm">
        <thead className="text-xs text-gray-700 dark:text-gray-300">
          <tr>
            <th scope="col" className="py-1 pr-3">Name</th>
            <th scope="col" className="py-1 pr-3">Type</th>
            <th scope="col" className="py-1 pr-3">Required</th>
            <th scope="col" className="py-1 pr-3">Default</th>
            <th scope="col" className="py-1 pr-3">Enum</th>
            <th scope="col" className="py-1">Description</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([name, spec]) => {
            const hasDefault = spec.default !== undefined && spec.default !== null;
            const required = !hasDefault && spec.required !== false;
            return (
              <tr key={name} className="border-t border-gray-100 align-top dark:border-gray-800">
                <td className="py-1.5 pr-3 font-mono font-semibold">{name}</td>
                <td className="py-1.5 pr-3 font-mono">{spec.type}</td>
                <td className="py-1.5 pr-3">{required ? "yes" : "no"}</td>
                <td className="py-1.5 pr-3 font-mono">{hasDefault ? JSON.stringify(spec.default) : "—"}</td>
                <td className="py-1.5 pr-3 font-mono">{spec.enum ? spec.enum.map(String).join(", ") : "—"}</td>
                <td className="py-1.5">{spec.description ?? ""}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function KeyValues({ data }: { data: Record<string, unknown> }) {
  return (
    <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
      {Object.entries(data).map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="font-mono text-gray-700 dark:text-gray-300">{k}</dt>
          <dd className="break-words font-mono">{typeof v === "string" ? v : JSON.stringify(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function PartsList({ prompt, refName }: { prompt: PromptT; refName: string | null }) {
  const project = useProject();
  const parts = includedParts(prompt);
  if (parts.length === 0) return <p className="text-sm">It includes no parts.</p>;
  const at = prompt.ref ?? prompt.commit;
  return (
    <ul className="flex flex-wrap gap-2">
      {parts.map((name) => (
        <li key={name}>
          <Link
            className="font-mono text-sm text-blue-800 underline hover:no-underline dark:text-blue-300"
            to={`${projectUrl(project, `/parts/${name}`)}?ref=${encodeURIComponent(refName ?? at)}`}
          >
            {name}
          </Link>
        </li>
      ))}
    </ul>
  );
}

function Timeline({ versions, current }: { versions: Version[]; current: string }) {
  const project = useProject();
  const { promptId = "" } = useParams();
  const navigate = useNavigate();
  const fromId = useId();
  const toId = useId();
  const [from, setFrom] = useState(versions[1]?.version ?? versions[0]?.version ?? "");
  const [to, setTo] = useState(versions[0]?.version ?? "");
  if (versions.length === 0) return <p className="text-sm">No versions in the history of this ref.</p>;
  return (
    <div className="flex flex-col gap-3">
      <ol className="flex flex-col gap-2" aria-label="Versions, newest first">
        {versions.map((v) => (
          <li key={v.commit + v.version} className="flex flex-wrap items-baseline gap-x-3 gap-y-0.5 border-l-2 border-blue-600 pl-3 text-sm">
            <Link to={promptUrl(project, promptId, "", { version: v.version })} className="font-mono font-semibold text-blue-800 underline dark:text-blue-300">
              {v.version}
            </Link>
            {v.version === current ? <Badge tone="green">shown</Badge> : null}
            <span className="font-mono text-xs">{shortSha(v.commit)}</span>
            <span>{v.author}</span>
            <span className="text-xs text-gray-700 dark:text-gray-300">{formatDate(v.committed_at)}</span>
            <span className="w-full text-gray-800 dark:text-gray-200">{v.message}</span>
          </li>
        ))}
      </ol>
      {versions.length > 1 ? (
        <form
          className="flex flex-wrap items-end gap-2"
          aria-label="Diff two versions"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(promptUrl(project, promptId, "/diff", { from, to }));
          }}
        >
          <div className="flex flex-col gap-1">
            <label htmlFor={fromId} className="text-xs font-medium">From</label>
            <select id={fromId} className={selectClass} value={from} onChange={(e) => setFrom(e.target.value)}>
              {versions.map((v) => <option key={v.version} value={v.version}>{v.version}</option>)}
            </select>
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor={toId} className="text-xs font-medium">To</label>
            <select id={toId} className={selectClass} value={to} onChange={(e) => setTo(e.target.value)}>
              {versions.map((v) => <option key={v.version} value={v.version}>{v.version}</option>)}
            </select>
          </div>
          <button type="submit" className="rounded-md bg-blue-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-800" data-testid="show-diff">
            Show diff
          </button>
        </form>
      ) : null}
    </div>
  );
}

function Snippets({ prompt }: { prompt: PromptT }) {
  const project = useProject();
  const s = snippets({
    origin: window.location.origin,
    project: project.ref,
    projectSlash: `${project.workspace}/${project.slug}`,
    promptId: prompt.id,
    version: prompt.version,
    inputs: sampleInputs(prompt),
  });
  const tabs = [
    { id: "curl", label: "curl", text: s.curl },
    { id: "python", label: "Python SDK", text: s.python },
    { id: "cli", label: "dakora render", text: s.cli },
  ];
  return (
    <Tabs.Root defaultValue="curl">
      <Tabs.List aria-label="Snippet language" className="mb-2 flex gap-1">
        {tabs.map((t) => (
          <Tabs.Trigger
            key={t.id}
            value={t.id}
            className="rounded-md px-2.5 py-1 text-sm font-medium text-gray-800 data-[state=active]:bg-blue-100 data-[state=active]:text-blue-900 dark:text-gray-200 dark:data-[state=active]:bg-blue-950 dark:data-[state=active]:text-blue-100"
          >
            {t.label}
          </Tabs.Trigger>
        ))}
      </Tabs.List>
      {tabs.map((t) => (
        <Tabs.Content key={t.id} value={t.id} className="flex flex-col gap-2">
          <Pre label={`${t.label} snippet`}>{t.text}</Pre>
          <div>
            <CopyButton text={t.text} label={`Copy ${t.label}`} />
          </div>
        </Tabs.Content>
      ))}
    </Tabs.Root>
  );
}
