// Branch/tag picker from GET …/refs; the choice lives in the URL (?ref=).

import { useId } from "react";
import { api } from "../api/endpoints";
import type { Project, Ref } from "../api/types";
import { useApi } from "../lib/useApi";
import { selectClass } from "./ui";

export function useRefs(project: Project) {
  return useApi(`refs:${project.id}`, (signal) => api.refs(project.id, signal));
}

export function RefPicker({
  project,
  value,
  onChange,
  label = "Branch or tag",
  allowEmpty,
}: {
  project: Project;
  value: string;
  onChange: (ref: string) => void;
  label?: string;
  allowEmpty?: string;
}) {
  const id = useId();
  const refs = useRefs(project);
  const list: Ref[] = refs.data?.refs ?? [];
  const branches = list.filter((r) => r.kind === "branch");
  const tags = list.filter((r) => r.kind === "tag");
  const known = list.some((r) => r.name === value);
  return (
    <div className="flex min-w-0 flex-col gap-1">
      <label htmlFor={id} className="text-xs font-medium text-gray-700 dark:text-gray-300">
        {label}
      </label>
      <select
        id={id}
        className={`${selectClass} min-w-40`}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-busy={refs.loading}
      >
        {allowEmpty !== undefined ? <option value="">{allowEmpty}</option> : null}
        {!known && value ? <option value={value}>{value}</option> : null}
        {branches.length ? (
          <optgroup label="Branches">
            {branches.map((r) => (
              <option key={`b:${r.name}`} value={r.name}>
                {r.name}
                {r.name === project.default_branch ? " (default)" : ""}
                {r.protected ? " · protected" : ""}
              </option>
            ))}
          </optgroup>
        ) : null}
        {tags.length ? (
          <optgroup label="Tags">
            {tags.map((r) => (
              <option key={`t:${r.name}`} value={r.name}>
                {r.name}
                {r.protected ? " · protected" : ""}
              </option>
            ))}
          </optgroup>
        ) : null}
      </select>
      {refs.error ? (
        <span role="alert" className="text-xs text-red-800 dark:text-red-300">
          Refs did not load: {refs.error.message}
        </span>
      ) : null}
    </div>
  );
}
