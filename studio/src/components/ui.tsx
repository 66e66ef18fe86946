// Small shared pieces: buttons, badges, loading and error states, copy button.

import { useState, type ButtonHTMLAttributes, type ReactNode } from "react";
import { Link, type LinkProps } from "react-router";
import { ApiError } from "../api/errors";

const base =
  "inline-flex items-center justify-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium " +
  "focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-600 disabled:opacity-50 disabled:cursor-not-allowed";

const variants = {
  primary: "bg-blue-700 text-white hover:bg-blue-800 dark:bg-blue-600 dark:hover:bg-blue-500",
  secondary:
    "border border-gray-300 bg-white text-gray-900 hover:bg-gray-50 dark:border-gray-600 dark:bg-slate-900 dark:text-gray-100 dark:hover:bg-slate-800",
  danger: "bg-red-700 text-white hover:bg-red-800",
  ghost: "text-gray-700 hover:bg-gray-100 dark:text-gray-200 dark:hover:bg-slate-800",
};

export type Variant = keyof typeof variants;

export function Button({
  variant = "secondary",
  className = "",
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant }) {
  return <button type="button" className={`${base} ${variants[variant]} ${className}`} {...props} />;
}

export function LinkButton({ variant = "secondary", className = "", ...props }: LinkProps & { variant?: Variant }) {
  return <Link className={`${base} ${variants[variant]} ${className}`} {...props} />;
}

const badgeTones = {
  gray: "bg-gray-100 text-gray-800 dark:bg-slate-800 dark:text-gray-200",
  blue: "bg-blue-100 text-blue-900 dark:bg-blue-950 dark:text-blue-200",
  green: "bg-green-100 text-green-900 dark:bg-green-950 dark:text-green-200",
  amber: "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-200",
  red: "bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200",
  purple: "bg-purple-100 text-purple-900 dark:bg-purple-950 dark:text-purple-200",
};

export type Tone = keyof typeof badgeTones;

export function Badge({ tone = "gray", children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span title={title} className={`inline-flex items-center rounded px-1.5 py-0.5 text-xs font-medium ${badgeTones[tone]}`}>
      {children}
    </span>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div role="status" aria-live="polite" className="flex items-center gap-2 p-4 text-sm text-gray-700 dark:text-gray-300">
      <span
        aria-hidden="true"
        className="h-4 w-4 animate-spin rounded-full border-2 border-gray-300 border-t-blue-700 dark:border-gray-600 dark:border-t-blue-400"
      />
      {label}
    </div>
  );
}

export function ErrorBox({ error, onRetry, title }: { error: Error; onRetry?: () => void; title?: string }) {
  const api = error instanceof ApiError ? error : null;
  const heading =
    title ??
    (api?.status === 404
      ? "Not found"
      : api?.status === 403
        ? "Not allowed"
        : api?.status === 0
          ? "The server cannot be reached"
          : "Something went wrong");
  return (
    <div
      role="alert"
      className="rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
    >
      <p className="font-semibold">{heading}</p>
      <p className="mt-1 break-words">{error.message}</p>
      {api && api.code ? <p className="mt-1 font-mono text-xs">{api.code}{api.status ? ` (${api.status})` : ""}</p> : null}
      {onRetry ? (
        <Button className="mt-2" onClick={onRetry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="p-4 text-sm text-gray-700 dark:text-gray-300">{children}</p>;
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    const done = () => {
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    };
    if (navigator.clipboard?.writeText) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else fallbackCopy(text, done);
  };
  return (
    <Button onClick={copy} aria-label={label}>
      <span aria-live="polite">{copied ? "Copied" : label}</span>
    </Button>
  );
}

function fallbackCopy(text: string, done: () => void) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  try {
    document.execCommand("copy");
    done();
  } finally {
    area.remove();
  }
}

export function Section({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  return (
    <section aria-labelledby={id} className="min-w-0 rounded-lg border border-gray-200 bg-white dark:border-gray-700 dark:bg-slate-900">
      <div className="flex flex-wrap items-center justify-between gap-2 border-b border-gray-200 px-4 py-2 dark:border-gray-700">
        <h2 id={id} className="text-sm font-semibold">
          {title}
        </h2>
        {actions ? <div className="flex flex-wrap gap-2">{actions}</div> : null}
      </div>
      <div className="p-4">{children}</div>
    </section>
  );
}

export function PageHeader({ title, subtitle, actions }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="mb-4 flex flex-wrap items-start justify-between gap-3">
      <div className="min-w-0">
        <h1 className="break-words text-xl font-semibold">{title}</h1>
        {subtitle ? <div className="mt-1 text-sm text-gray-700 dark:text-gray-300">{subtitle}</div> : null}
      </div>
      {actions ? <div className="flex flex-wrap gap-2">{actions}</div> : null}
    </div>
  );
}

export const inputClass =
  "block w-full rounded-md border border-gray-400 bg-white px-2 py-1.5 text-sm text-gray-900 " +
  "focus:outline-2 focus:outline-blue-600 dark:border-gray-500 dark:bg-slate-900 dark:text-gray-100";

export const selectClass = inputClass + " pr-8";

export function Pre({ children, label }: { children: ReactNode; label: string }) {
  return (
    <pre
      tabIndex={0}
      aria-label={label}
      className="overflow-x-auto whitespace-pre-wrap break-words rounded-md bg-gray-50 p-3 font-mono text-sm text-gray-900 dark:bg-slate-950 dark:text-gray-100"
    >
      {children}
    </pre>
  );
}
