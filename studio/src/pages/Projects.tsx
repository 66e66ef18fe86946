import { Link } from "react-router";
import { useAuth } from "../auth";
import { Empty, PageHeader } from "../components/ui";
import { projectUrl } from "../project";

export function Projects() {
  const { me } = useAuth();
  const projects = me?.projects ?? [];
  return (
    <div>
      <PageHeader title="Projects" subtitle="The projects you can read." />
      {projects.length === 0 ? (
        <Empty>No project is visible to you. Ask a workspace admin for access.</Empty>
      ) : (
        <ul className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
          {projects.map((p) => (
            <li key={p.id}>
              <Link
                to={projectUrl(p)}
                className="block rounded-lg border border-gray-200 bg-white p-4 hover:border-blue-500 dark:border-gray-700 dark:bg-slate-900"
              >
                <span className="block font-mono font-semibold">
                  {p.workspace}/{p.slug}
                </span>
                {p.name && p.name !== p.slug ? <span className="block text-sm">{p.name}</span> : null}
                <span className="mt-1 block text-xs text-gray-700 dark:text-gray-300">
                  default branch <span className="font-mono">{p.default_branch}</span> · id{" "}
                  <span className="font-mono">{p.id.slice(0, 8)}…</span>
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
