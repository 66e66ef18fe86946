// Load something for a page: data, error, loading, and reload. `key` names what is
// loaded (null: nothing yet); a new key aborts the previous request.

import { useCallback, useEffect, useState } from "react";

interface State<T> {
  key: string | null;
  data?: T;
  error?: Error;
}

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

export function useApi<T>(key: string | null, fetcher: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<State<T>>({ key: null });
  const [nonce, setNonce] = useState(0);
  const fullKey = key === null ? null : `${key}#${nonce}`;
  useEffect(() => {
    if (fullKey === null) return;
    const controller = new AbortController();
    fetcher(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key: fullKey, data });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState({ key: fullKey, error: error instanceof Error ? error : new Error(String(error)) });
      },
    );
    return () => controller.abort();
    // the fetcher is a new closure each render; the key says when to load again
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fullKey]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  const current = state.key === fullKey && fullKey !== null;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: fullKey !== null && !current,
    reload,
  };
}
