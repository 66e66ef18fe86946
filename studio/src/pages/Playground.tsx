// Try a prompt: a form from its typed inputs, presets from its examples, render at the
// selected ref or version; every problem of a 422 next to its field.

import { useState } from "react";
import { useNavigate } from "react-router";
import { api } from "../api/endpoints";
import { ApiError, problemsByInput } from "../api/errors";
import type { Prompt, RenderResult } from "../api/types";
import { InputsForm } from "../components/InputsForm";
import { RefPicker } from "../components/RefPicker";
import { Badge, Button, ErrorBox, LinkButton, Loading, PageHeader, Pre, Section } from "../components/ui";
import { initialValues, toInputs, valuesFromExample, type FormValues } from "../lib/coerce";
import { useApi } from "../lib/useApi";
import { promptUrl } from "../project";
import { usePromptSelection } from "./Prompt";

export function Playground() {
  const { project, promptId, version, ref } = usePromptSelection();
  const navigate = useNavigate();
  const prompt = useApi(`prompt:${project.id}:${promptId}:${ref}:${version}`, (signal) =>
    api.prompt(project.id, promptId, { ref, version }, signal),
  );
  return (
    <div className="flex flex-col gap-4">
      <PageHeader
        title={
          <>
            Playground · <span className="font-mono">{promptId}</span>
          </>
        }
        subtitle={prompt.data ? <>version {prompt.data.version} at {version ? `version ${version}` : ref}</> : null}
        actions={<LinkButton to={promptUrl(project, promptId, "", version ? { version } : { ref: ref === project.default_branch ? null : ref })}>Back to the prompt</LinkButton>}
      />
      <RefPicker
        project={project}
        value={ref ?? ""}
        allowEmpty={version ? `version ${version}` : undefined}
        onChange={(r) => navigate(promptUrl(project, promptId, "/play", { ref: r && r !== project.default_branch ? r : null }))}
      />
      {prompt.loading ? <Loading label="Loading the prompt…" /> : null}
      {prompt.error ? <ErrorBox error={prompt.error} onRetry={prompt.reload} /> : null}
      {prompt.data ? <PlaygroundForm key={prompt.data.blob_sha} prompt={prompt.data} selector={version ? { version } : { ref }} /> : null}
    </div>
  );
}

function PlaygroundForm({ prompt, selector }: { prompt: Prompt; selector: { version?: string | null; ref?: string | null } }) {
  const { project } = usePromptSelection();
  const [values, setValues] = useState<FormValues>(() => initialValues(prompt.inputs));
  const [result, setResult] = useState<RenderResult | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const render = async () => {
    const { inputs, errors } = toInputs(prompt.inputs, values);
    setClientErrors(errors);
    if (Object.keys(errors).length) {
      setError(null);
      setResult(null);
      return;
    }
    setBusy(true);
    try {
      setResult(await api.render(project.id, prompt.id, inputs, selector));
      setError(null);
    } catch (e) {
      setResult(null);
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };

  const apiError = error instanceof ApiError ? error : null;
  const byInput = problemsByInput(apiError);
  const fieldErrors: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(byInput)) if (k) fieldErrors[k] = v;
  for (const [k, v] of Object.entries(clientErrors)) (fieldErrors[k] ??= []).push(v);
  const general = byInput[""] ?? [];

  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <Section
        title="Inputs"
        id="pg-inputs"
        actions={
          <>
            {prompt.examples.map((ex, i) => (
              <Button key={i} onClick={() => setValues(valuesFromExample(prompt.inputs, ex))} data-testid={`preset-${i + 1}`}>
                Example {i + 1}
              </Button>
            ))}
            <Button variant="ghost" onClick={() => setValues(initialValues(prompt.inputs))}>
              Reset
            </Button>
          </>
        }
      >
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void render();
          }}
          aria-label="Render inputs"
          className="flex flex-col gap-4"
        >
          <InputsForm specs={prompt.inputs} values={values} onChange={setValues} errors={fieldErrors} />
          <div>
            <Button type="submit" variant="primary" disabled={busy} data-testid="render-button">
              {busy ? "Rendering…" : "Render"}
            </Button>
          </div>
        </form>
      </Section>
      <Section title="Output" id="pg-output">
        <div aria-live="polite">
          {apiError && apiError.status === 422 ? (
            <div role="alert" className="mb-3 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100" data-testid="render-problems">
              <p className="font-semibold">The inputs do not fit this prompt</p>
              <p>{apiError.problems.length} problem{apiError.problems.length === 1 ? "" : "s"}, shown next to the fields.</p>
              {general.length ? (
                <ul className="mt-1 list-disc pl-5">
                  {general.map((g, i) => (
                    <li key={i}>{g}</li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : error ? (
            <ErrorBox error={error} title={apiError?.code === "render_error" ? "The template failed to render" : undefined} />
          ) : null}
          {result ? <RenderOutput result={result} /> : !error ? <p className="text-sm">Fill in the inputs and press Render.</p> : null}
        </div>
      </Section>
    </div>
  );
}

export function RenderOutput({ result }: { result: RenderResult }) {
  return (
    <div className="flex flex-col gap-2" data-testid="render-output">
      <p className="text-xs text-gray-700 dark:text-gray-300">
        {result.prompt_id} {result.version} · {result.ref ?? "pinned"} @ {result.commit.slice(0, 12)}
      </p>
      {result.messages ? (
        <ol className="flex flex-col gap-2">
          {result.messages.map((m, i) => (
            <li key={i} className="rounded-md border border-gray-200 p-2 dark:border-gray-700">
              <Badge tone={m.role === "system" ? "amber" : m.role === "user" ? "blue" : "green"}>{m.role}</Badge>
              <Pre label={`${m.role} message`}>{m.content}</Pre>
            </li>
          ))}
        </ol>
      ) : (
        <Pre label="Rendered text">{result.rendered ?? ""}</Pre>
      )}
    </div>
  );
}
