// One part (a snippet prompts include), at a ref.

import { useParams, useSearchParams } from "react-router";
import { api } from "../api/endpoints";
import { useAuth } from "../auth";
import { CodeView } from "../components/lazy";
import { ErrorBox, LinkButton, Loading, PageHeader, Section } from "../components/ui";
import { shortSha } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { projectUrl, useProject } from "../project";

export function Part() {
  const project = useProject();
  const { category = "", name = "" } = useParams();
  const [params] = useSearchParams();
  const ref = params.get("ref") || project.default_branch;
  const { canWrite } = useAuth();
  const full = `${category}/${name}`;
  const part = useApi(`part:${project.id}:${full}:${ref}`, (signal) => api.part(project.id, full, ref, signal));
  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={
          <>
            Part <span className="font-mono">{full}</span>
          </>
        }
        subtitle={part.data ? <span className="font-mono text-xs">{part.data.path} · {ref} @ {shortSha(part.data.commit)}</span> : null}
        actions={
          canWrite(project) ? (
            <LinkButton to={`${projectUrl(project, `/parts/${category}/${name}/edit`)}?branch=${encodeURIComponent(ref)}`} data-testid="edit-button">
              Edit
            </LinkButton>
          ) : null
        }
      />
      {part.loading ? <Loading /> : null}
      {part.error ? <ErrorBox error={part.error} onRetry={part.reload} /> : null}
      {part.data ? (
        <Section title="Source" id="part-src">
          <CodeView value={part.data.source} language="text" label={`Source of ${part.data.path}`} />
        </Section>
      ) : null}
    </div>
  );
}
