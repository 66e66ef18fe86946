// The CodeMirror views, split out of the first load: each is fetched on first use.

import { lazy, Suspense } from "react";
import { Loading } from "./ui";

const LazyCodeView = lazy(() => import("../editor/cm").then((m) => ({ default: m.CodeView })));
const LazyYamlEditor = lazy(() => import("../editor/cm").then((m) => ({ default: m.YamlEditor })));
const LazyJsonEditor = lazy(() => import("../editor/cm").then((m) => ({ default: m.JsonEditor })));
const LazyDiffView = lazy(() => import("../editor/cm").then((m) => ({ default: m.DiffView })));

type Props<T> = T extends (props: infer P) => unknown ? P : never;
type CM = typeof import("../editor/cm");

export function CodeView(props: Props<CM["CodeView"]>) {
  return (
    <Suspense fallback={<Loading label="Loading the viewer…" />}>
      <LazyCodeView {...props} />
    </Suspense>
  );
}

export function YamlEditor(props: Props<CM["YamlEditor"]>) {
  return (
    <Suspense fallback={<Loading label="Loading the editor…" />}>
      <LazyYamlEditor {...props} />
    </Suspense>
  );
}

export function JsonEditor(props: Props<CM["JsonEditor"]>) {
  return (
    <Suspense fallback={<Loading label="Loading the editor…" />}>
      <LazyJsonEditor {...props} />
    </Suspense>
  );
}

export function DiffView(props: Props<CM["DiffView"]>) {
  return (
    <Suspense fallback={<Loading label="Loading the diff…" />}>
      <LazyDiffView {...props} />
    </Suspense>
  );
}

