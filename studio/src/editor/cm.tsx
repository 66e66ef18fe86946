// CodeMirror 6 views, loaded on demand (a separate chunk, see the lazy imports in
// components/lazy.tsx): highlighted source, the YAML editor with check findings at
// their lines, the JSON editor of object inputs, and the side-by-side / unified diff.

import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { json, jsonParseLinter } from "@codemirror/lang-json";
import { yaml } from "@codemirror/lang-yaml";
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, linter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { MergeView, unifiedMergeView } from "@codemirror/merge";
import { EditorState, type Extension } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import { useEffect, useRef } from "react";
import type { Finding } from "../api/types";

export type Language = "yaml" | "json" | "text";

const highlight = HighlightStyle.define([
  { tag: [t.propertyName, t.definition(t.propertyName), t.keyword], color: "var(--hl-key)" },
  { tag: [t.string, t.special(t.string), t.content], color: "var(--hl-string)" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--hl-number)" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--hl-comment)", fontStyle: "italic" },
  { tag: [t.meta, t.typeName, t.labelName, t.processingInstruction], color: "var(--hl-meta)" },
]);

function languageOf(lang: Language): Extension {
  if (lang === "yaml") return yaml();
  if (lang === "json") return json();
  return [];
}

function baseExtensions(label: string, lang: Language): Extension[] {
  return [
    lineNumbers(),
    drawSelection(),
    languageOf(lang),
    syntaxHighlighting(highlight),
    EditorView.lineWrapping,
    EditorView.contentAttributes.of({ "aria-label": label }),
  ];
}

// Read-only views stay focusable (tabindex) so their scroll area works by keyboard.
const readOnly: Extension[] = [EditorState.readOnly.of(true), EditorView.contentAttributes.of({ tabindex: "0" })];

/** Highlighted, read-only source (focusable, so it can be scrolled by keyboard). */
export function CodeView({ value, language = "yaml", label }: { value: string; language?: Language; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return;
    const view = new EditorView({
      parent: host.current,
      state: EditorState.create({ doc: value, extensions: [...baseExtensions(label, language), ...readOnly] }),
    });
    return () => view.destroy();
  }, [value, language, label]);
  return (
    <div
      ref={host}
      className="overflow-hidden rounded-md border border-gray-200 dark:border-gray-700 [&_.cm-editor]:max-h-[36rem] [&_.cm-scroller]:overflow-auto"
      data-testid="code-view"
    />
  );
}

function diagnosticsFor(state: EditorState, findings: Finding[]): Diagnostic[] {
  const doc = state.doc;
  return findings.map((f) => {
    const n = Math.min(Math.max(f.line ?? 1, 1), doc.lines);
    const line = doc.line(n);
    return {
      from: line.from,
      to: line.to,
      severity: f.severity === "error" ? "error" : f.severity === "warning" ? "warning" : "info",
      message: `${f.message}${f.rule ? ` [${f.rule}]` : ""}`,
      source: f.rule || undefined,
    };
  });
}

/** The prompt/part editor: the check findings are marked at their lines. */
export function YamlEditor({
  value,
  onChange,
  findings,
  label,
  language = "yaml",
}: {
  value: string;
  onChange: (text: string) => void;
  findings: Finding[];
  label: string;
  language?: Language;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const change = useRef(onChange);
  useEffect(() => {
    change.current = onChange;
  }, [onChange]);
  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          ...baseExtensions(label, language),
          history(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          lintGutter(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) change.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // created once; later values arrive through the effect below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [label, language]);
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);
  useEffect(() => {
    const v = view.current;
    if (v) v.dispatch(setDiagnostics(v.state, diagnosticsFor(v.state, findings)));
  }, [findings, value]);
  return (
    <div
      ref={host}
      className="overflow-hidden rounded-md border border-gray-300 dark:border-gray-600 [&_.cm-editor]:max-h-[70vh] [&_.cm-editor]:min-h-[24rem] [&_.cm-scroller]:overflow-auto"
      data-testid="yaml-editor"
    />
  );
}

/** The JSON editor of an `object` input, with parse errors marked as you type. */
export function JsonEditor({ value, onChange, label, id }: { value: string; onChange: (text: string) => void; label: string; id?: string }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const change = useRef(onChange);
  useEffect(() => {
    change.current = onChange;
  }, [onChange]);
  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          drawSelection(),
          json(),
          syntaxHighlighting(highlight),
          history(),
          bracketMatching(),
          lintGutter(),
          linter(jsonParseLinter(), { delay: 250 }),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          EditorView.contentAttributes.of({ "aria-label": label, ...(id ? { id } : {}) }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) change.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [label, id]);
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);
  return <div ref={host} className="overflow-hidden rounded-md border border-gray-400 dark:border-gray-500 [&_.cm-editor]:min-h-[5rem]" />;
}

/** Two texts side by side (split) or as one unified view, unchanged runs collapsed. */
export function DiffView({
  a,
  b,
  mode,
  labelA,
  labelB,
  language = "yaml",
}: {
  a: string;
  b: string;
  mode: "split" | "unified";
  labelA: string;
  labelB: string;
  language?: Language;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return;
    const collapse = { margin: 3, minSize: 6 };
    if (mode === "split") {
      const mv = new MergeView({
        a: { doc: a, extensions: [...baseExtensions(labelA, language), ...readOnly] },
        b: { doc: b, extensions: [...baseExtensions(labelB, language), ...readOnly] },
        parent: host.current,
        collapseUnchanged: collapse,
        gutter: true,
      });
      return () => mv.destroy();
    }
    const view = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: b,
        extensions: [
          ...baseExtensions(`${labelA} → ${labelB}`, language),
          ...readOnly,
          unifiedMergeView({ original: a, mergeControls: false, collapseUnchanged: collapse, gutter: true }),
        ],
      }),
    });
    return () => view.destroy();
  }, [a, b, mode, labelA, labelB, language]);
  return (
    <div
      ref={host}
      data-testid={mode === "split" ? "diff-split" : "diff-unified"}
      className="overflow-hidden rounded-md border border-gray-200 dark:border-gray-700"
    />
  );
}
