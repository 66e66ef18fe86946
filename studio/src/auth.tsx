// Who is signed in: /api/me with the key from sessionStorage (or none, in no-auth
// mode). A 401 from any call returns to the sign-in screen.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { getStoredKey, setUnauthenticatedHandler, storeKey } from "./api/client";
import { api } from "./api/endpoints";
import { ApiError } from "./api/errors";
import type { Me, Project } from "./api/types";

type Status = "checking" | "signed-in" | "signed-out" | "error";

export interface Auth {
  status: Status;
  me: Me | null;
  error: Error | null;
  notice: string | null;
  signIn: (key: string) => Promise<void>;
  signOut: () => void;
  retry: () => void;
  canWrite: (project: Project) => boolean;
  canManageKeys: boolean;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>("checking");
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    // Without a key, ask the public health route for the auth mode first, so a keys
    // server shows the sign-in screen without a 401 in the console.
    const first = getStoredKey()
      ? api.me(controller.signal)
      : api.health(controller.signal).then((h) => {
          if (h.auth_mode === "none") return api.me(controller.signal);
          throw new ApiError(401, "unauthenticated", "Sign in with an API key");
        });
    first.then(
      (m) => {
        setMe(m);
        setStatus("signed-in");
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        if (e instanceof ApiError && e.isUnauthenticated) {
          storeKey(null);
          setStatus("signed-out");
        } else {
          setError(e instanceof Error ? e : new Error(String(e)));
          setStatus("error");
        }
      },
    );
    return () => controller.abort();
  }, [attempt]);

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      storeKey(null);
      setMe(null);
      setNotice("The server did not accept your key (revoked or expired?). Sign in again.");
      setStatus("signed-out");
    });
    return () => setUnauthenticatedHandler(null);
  }, []);

  const signIn = useCallback(async (key: string) => {
    const trimmed = key.trim();
    try {
      const m = await api.me(undefined, trimmed);
      storeKey(trimmed);
      setMe(m);
      setNotice(null);
      setStatus("signed-in");
    } catch (e) {
      if (e instanceof ApiError && e.isUnauthenticated) {
        throw new Error("That key was not accepted: check it is complete, not revoked and not expired.", { cause: e });
      }
      throw e;
    }
  }, []);

  const signOut = useCallback(() => {
    storeKey(null);
    setMe(null);
    setNotice(null);
    setStatus("signed-out");
  }, []);

  const retry = useCallback(() => {
    setStatus("checking");
    setAttempt((n) => n + 1);
  }, []);

  const value = useMemo<Auth>(() => {
    const canWrite = (project: Project): boolean => {
      if (!me) return false;
      if (me.kind === "local" || me.kind === "user") return true;
      return Boolean(me.key?.scopes.includes("write") && me.key.project_id === project.id);
    };
    return {
      status,
      me,
      error,
      notice,
      signIn,
      signOut,
      retry,
      canWrite,
      canManageKeys: me?.kind === "local" || me?.kind === "user",
    };
  }, [status, me, error, notice, signIn, signOut, retry]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}
