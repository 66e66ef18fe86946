import { useId, useState, type FormEvent } from "react";
import { useAuth } from "../auth";
import { Button, inputClass } from "../components/ui";

export function SignIn() {
  const { signIn, notice } = useAuth();
  const id = useId();
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!key.trim()) {
      setError("Paste an API key (it starts with dk_).");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(key);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="mx-auto flex min-h-screen max-w-md flex-col justify-center px-4">
      <h1 className="text-2xl font-semibold">Dakora Studio</h1>
      <p className="mt-2 text-sm text-gray-700 dark:text-gray-300">
        Sign in with an API key of your project. It is kept in this browser tab only (sessionStorage) and sent as{" "}
        <code>Authorization: Bearer</code>.
      </p>
      {notice ? (
        <p role="status" className="mt-3 rounded-md bg-amber-50 p-2 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100">
          {notice}
        </p>
      ) : null}
      <form onSubmit={submit} className="mt-4 flex flex-col gap-3" aria-label="Sign in">
        <label htmlFor={id} className="text-sm font-medium">
          API key
        </label>
        <input
          id={id}
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          className={`${inputClass} font-mono`}
          placeholder="dk_…"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : undefined}
        />
        {error ? (
          <p id={`${id}-error`} role="alert" className="text-sm text-red-800 dark:text-red-300">
            {error}
          </p>
        ) : null}
        <Button type="submit" variant="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </Button>
      </form>
      <p className="mt-6 text-xs text-gray-700 dark:text-gray-300">
        No key? An admin makes one with <code>dakora admin create-key WORKSPACE/PROJECT</code>, or on the Studio's API keys page.
      </p>
    </main>
  );
}
