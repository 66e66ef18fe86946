// Ctrl/Cmd+K: jump to a prompt of the current project by typing part of its id.

import * as Dialog from "@radix-ui/react-dialog";
import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router";
import { api } from "../api/endpoints";
import type { Project } from "../api/types";
import { useApi } from "../lib/useApi";
import { promptUrl } from "../project";
import { inputClass, Loading } from "./ui";

const MAX_SHOWN = 50;

export function CommandPalette({ project, open, onOpenChange }: { project: Project; open: boolean; onOpenChange: (o: boolean) => void }) {
  const navigate = useNavigate();
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const list = useApi(open ? `palette:${project.id}` : null, (signal) => api.prompts(project.id, null, signal));
  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    const all = list.data?.prompts ?? [];
    const hits = q
      ? all.filter((p) => p.id.toLowerCase().includes(q) || (p.description ?? "").toLowerCase().includes(q))
      : all;
    return hits.slice(0, MAX_SHOWN);
  }, [list.data, query]);

  const go = (id: string) => {
    onOpenChange(false);
    setQuery("");
    navigate(promptUrl(project, id));
  };

  return (
    <Dialog.Root open={open} onOpenChange={onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-black/40" />
        <Dialog.Content
          className="fixed left-1/2 top-16 z-50 w-[min(36rem,calc(100vw-2rem))] -translate-x-1/2 rounded-lg border border-gray-200 bg-white p-3 shadow-xl dark:border-gray-700 dark:bg-slate-900"
          aria-describedby={undefined}
        >
          <Dialog.Title className="mb-2 text-sm font-semibold">Jump to a prompt</Dialog.Title>
          <input
            autoFocus
            role="combobox"
            aria-expanded="true"
            aria-controls="palette-list"
            aria-activedescendant={matches[active] ? `palette-${active}` : undefined}
            aria-label="Prompt id or description"
            placeholder="Type a prompt id…"
            className={inputClass}
            value={query}
            onChange={(e) => {
              setQuery(e.target.value);
              setActive(0);
            }}
            onKeyDown={(e) => {
              if (e.key === "ArrowDown") {
                e.preventDefault();
                setActive((a) => Math.min(a + 1, Math.max(matches.length - 1, 0)));
              } else if (e.key === "ArrowUp") {
                e.preventDefault();
                setActive((a) => Math.max(a - 1, 0));
              } else if (e.key === "Enter") {
                const hit = matches[active];
                if (hit) go(hit.id);
              }
            }}
          />
          {list.loading ? <Loading /> : null}
          {list.error ? <p role="alert" className="mt-2 text-sm text-red-800 dark:text-red-300">{list.error.message}</p> : null}
          <ul id="palette-list" role="listbox" aria-label="Prompts" className="mt-2 max-h-80 overflow-y-auto">
            {matches.map((p, i) => (
              <li
                key={p.id}
                id={`palette-${i}`}
                role="option"
                aria-selected={i === active}
                className={`cursor-pointer rounded px-2 py-1.5 text-sm ${i === active ? "bg-blue-100 dark:bg-blue-950" : ""}`}
                onMouseEnter={() => setActive(i)}
                onClick={() => go(p.id)}
              >
                <span className="font-mono font-medium">{p.id}</span>{" "}
                <span className="text-gray-700 dark:text-gray-300">{p.version}</span>
                {p.description ? <span className="block truncate text-xs text-gray-700 dark:text-gray-300">{p.description}</span> : null}
              </li>
            ))}
            {list.data && matches.length === 0 ? <li className="px-2 py-1.5 text-sm">No prompt matches “{query}”.</li> : null}
          </ul>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** Opens the palette on Ctrl+K / Cmd+K. */
export function usePaletteShortcut(setOpen: (open: boolean) => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setOpen(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [setOpen]);
}
