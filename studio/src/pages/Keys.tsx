// API keys of the project (workspace owners and admins): list, create (shown once), revoke.

import { useId, useState, type FormEvent } from "react";
import { api } from "../api/endpoints";
import type { ApiKeyCreated } from "../api/types";
import { Badge, Button, CopyButton, Empty, ErrorBox, inputClass, Loading, PageHeader, Section, selectClass } from "../components/ui";
import { formatDate } from "../lib/prompt";
import { useApi } from "../lib/useApi";
import { useProject } from "../project";

export function Keys() {
  const project = useProject();
  const keys = useApi(`keys:${project.id}`, (signal) => api.apiKeys(project.id, signal));
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("read");
  const [days, setDays] = useState("");
  const ids = { name: useId(), scope: useId(), days: useId() };

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const n = days.trim() ? Number.parseInt(days, 10) : null;
      const key = await api.createApiKey(project.id, { name: name.trim(), scope, ...(n ? { expires_days: n } : {}) });
      setCreated(key);
      setName("");
      keys.reload();
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    }
  };

  const revoke = async (id: string) => {
    if (!window.confirm("Revoke this key? Apps using it stop working at once.")) return;
    setError(null);
    try {
      await api.revokeApiKey(project.id, id);
      keys.reload();
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    }
  };

  return (
    <div className="flex flex-col gap-4">
      <PageHeader title="API keys" subtitle="Keys for apps and CI. A key is shown once, when it is made." />
      {error ? <ErrorBox error={error} /> : null}
      {created ? (
        <div role="status" className="rounded-lg border border-green-400 bg-green-50 p-3 text-sm text-green-950 dark:border-green-700 dark:bg-green-950 dark:text-green-50">
          <p className="font-semibold">New {created.scope} key — copy it now, it is not shown again:</p>
          <p className="mt-1 break-all font-mono" data-testid="new-key">
            {created.key}
          </p>
          <div className="mt-2 flex gap-2">
            <CopyButton text={created.key} label="Copy key" />
            <Button variant="ghost" onClick={() => setCreated(null)}>
              Done
            </Button>
          </div>
        </div>
      ) : null}
      <Section title="New key" id="keys-new">
        <form onSubmit={create} className="flex flex-wrap items-end gap-3" aria-label="Create an API key">
          <div className="flex flex-col gap-1">
            <label htmlFor={ids.name} className="text-xs font-medium">Name</label>
            <input id={ids.name} className={inputClass} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. ci" />
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor={ids.scope} className="text-xs font-medium">Scope</label>
            <select id={ids.scope} className={selectClass} value={scope} onChange={(e) => setScope(e.target.value)}>
              <option value="read">read (fetch, render, clone)</option>
              <option value="write">write (also push and edit)</option>
            </select>
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor={ids.days} className="text-xs font-medium">Expires after (days)</label>
            <input id={ids.days} className={inputClass} inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} placeholder="never" />
          </div>
          <Button type="submit" variant="primary">
            Create key
          </Button>
        </form>
      </Section>
      {keys.loading ? <Loading /> : null}
      {keys.error ? <ErrorBox error={keys.error} onRetry={keys.reload} /> : null}
      {keys.data && keys.data.keys.length === 0 ? <Empty>No keys yet.</Empty> : null}
      {keys.data && keys.data.keys.length ? (
        <div className="overflow-x-auto rounded-lg border border-gray-200 dark:border-gray-700" tabIndex={0} role="region" aria-label="API keys">
          <table className="w-full min-w-[40rem] text-left text-sm">
            <thead className="bg-gray-50 text-xs text-gray-700 dark:bg-slate-900 dark:text-gray-300">
              <tr>
                <th scope="col" className="p-2">Key</th>
                <th scope="col" className="p-2">Name</th>
                <th scope="col" className="p-2">Scope</th>
                <th scope="col" className="p-2">Status</th>
                <th scope="col" className="p-2">Created</th>
                <th scope="col" className="p-2">Last used</th>
                <th scope="col" className="p-2"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {keys.data.keys.map((k) => (
                <tr key={k.id} className="border-t border-gray-100 dark:border-gray-800">
                  <td className="p-2 font-mono">{k.display}</td>
                  <td className="p-2">{k.name || "—"}</td>
                  <td className="p-2">{k.scope}</td>
                  <td className="p-2">
                    <Badge tone={k.status === "active" ? "green" : "gray"}>{k.status}</Badge>
                  </td>
                  <td className="p-2 text-xs">{formatDate(k.created_at)}</td>
                  <td className="p-2 text-xs">{formatDate(k.last_used_at)}</td>
                  <td className="p-2 text-right">
                    {k.status === "active" ? (
                      <Button variant="danger" onClick={() => void revoke(k.id)} aria-label={`Revoke ${k.display}`}>
                        Revoke
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
