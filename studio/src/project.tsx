// The project of the current URL (/p/:project/…), looked up among /api/me's projects
// by id or workspace~slug.

import { useParams } from "react-router";
import type { Project } from "./api/types";
import { useAuth } from "./auth";

export function useProjectOrNull(): Project | null {
  const { project } = useParams();
  const { me } = useAuth();
  if (!project || !me) return null;
  return me.projects.find((p) => p.ref === project || p.id === project) ?? null;
}

export function useProject(): Project {
  const p = useProjectOrNull();
  if (!p) throw new Error("useProject outside a project route");
  return p;
}

/** Links inside a project: /p/<workspace~slug>/… */
export function projectUrl(project: Project, rest = ""): string {
  return `/p/${encodeURIComponent(project.ref)}${rest}`;
}

export function promptUrl(project: Project, id: string, rest = "", query?: Record<string, string | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) params.set(k, v);
  const qs = params.toString();
  return projectUrl(project, `/prompts/${encodeURIComponent(id)}${rest}${qs ? `?${qs}` : ""}`);
}
