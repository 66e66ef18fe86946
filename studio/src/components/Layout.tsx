// The frame of every page: header with the project's navigation, the palette, main.

import { useState } from "react";
import { Link, NavLink, Outlet } from "react-router";
import { useAuth } from "../auth";
import { projectUrl, useProjectOrNull } from "../project";
import { CommandPalette, usePaletteShortcut } from "./CommandPalette";
import { Button } from "./ui";

const navClass = ({ isActive }: { isActive: boolean }) =>
  `whitespace-nowrap rounded-md px-2.5 py-1.5 text-sm font-medium ${
    isActive
      ? "bg-blue-100 text-blue-900 dark:bg-blue-950 dark:text-blue-100"
      : "text-gray-800 hover:bg-gray-100 dark:text-gray-200 dark:hover:bg-slate-800"
  }`;

export function Layout() {
  const { me, signOut, canWrite, canManageKeys } = useAuth();
  const project = useProjectOrNull();
  const [paletteOpen, setPaletteOpen] = useState(false);
  usePaletteShortcut((open) => {
    if (project) setPaletteOpen(open);
  });
  const who =
    me?.kind === "key"
      ? `${me.key?.name || "API key"} · ${me.key?.scopes.includes("write") ? "read+write" : "read only"}`
      : me?.kind === "user"
        ? (me.user?.email ?? "signed in")
        : "local (no auth)";

  return (
    <div className="flex min-h-screen flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:p-2 focus:text-blue-800">
        Skip to content
      </a>
      <header className="border-b border-gray-200 bg-gray-50 dark:border-gray-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-2">
          <Link to="/" className="text-base font-bold tracking-tight text-gray-900 dark:text-white">
            Dakora Studio
          </Link>
          {project ? (
            <Link to={projectUrl(project)} className="truncate font-mono text-sm text-gray-800 hover:underline dark:text-gray-200">
              {project.workspace}/{project.slug}
            </Link>
          ) : null}
          <div className="ml-auto flex items-center gap-2">
            {project ? (
              <Button onClick={() => setPaletteOpen(true)} aria-keyshortcuts="Control+K Meta+K">
                Jump to… <kbd className="hidden rounded border border-gray-300 px-1 text-xs sm:inline dark:border-gray-600">Ctrl K</kbd>
              </Button>
            ) : null}
            <span className="hidden text-xs text-gray-700 md:inline dark:text-gray-300" data-testid="whoami">
              {who}
            </span>
            {me?.kind !== "local" ? (
              <Button variant="ghost" onClick={signOut}>
                Sign out
              </Button>
            ) : null}
          </div>
        </div>
        {project ? (
          <nav aria-label="Project" className="mx-auto max-w-7xl overflow-x-auto px-4 pb-2">
            <ul className="flex gap-1">
              <li>
                <NavLink end to={projectUrl(project)} className={navClass}>
                  Prompts
                </NavLink>
              </li>
              <li>
                <NavLink to={projectUrl(project, "/review")} className={navClass}>
                  Review
                </NavLink>
              </li>
              <li>
                <NavLink to={projectUrl(project, "/activity")} className={navClass}>
                  Activity
                </NavLink>
              </li>
              <li>
                <NavLink to={projectUrl(project, "/logs")} className={navClass}>
                  Logs
                </NavLink>
              </li>
              {canManageKeys ? (
                <li>
                  <NavLink to={projectUrl(project, "/keys")} className={navClass}>
                    API keys
                  </NavLink>
                </li>
              ) : null}
              {canWrite(project) ? (
                <li>
                  <NavLink to={projectUrl(project, "/new")} className={navClass} data-testid="nav-new-prompt">
                    New prompt
                  </NavLink>
                </li>
              ) : null}
            </ul>
          </nav>
        ) : null}
      </header>
      <main id="main" className="mx-auto w-full min-w-0 max-w-7xl flex-1 px-4 py-4">
        <Outlet />
      </main>
      {project ? <CommandPalette project={project} open={paletteOpen} onOpenChange={setPaletteOpen} /> : null}
    </div>
  );
}
