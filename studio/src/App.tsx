// Routes (deep-linkable, under /studio/), behind the sign-in gate.

import { useEffect } from "react";
import { createBrowserRouter, Outlet, RouterProvider, useLocation, useRouteError } from "react-router";
import { AuthProvider, useAuth } from "./auth";
import { Layout } from "./components/Layout";
import { Button, ErrorBox, LinkButton, Loading } from "./components/ui";
import { Activity } from "./pages/Activity";
import { Compare } from "./pages/Compare";
import { Diff } from "./pages/Diff";
import { EditPart, EditPrompt, NewPrompt } from "./pages/Edit";
import { Keys } from "./pages/Keys";
import { Logs } from "./pages/Logs";
import { Part } from "./pages/Part";
import { Playground } from "./pages/Playground";
import { Projects } from "./pages/Projects";
import { Prompt } from "./pages/Prompt";
import { Prompts } from "./pages/Prompts";
import { Review } from "./pages/Review";
import { SignIn } from "./pages/SignIn";
import { useProjectOrNull } from "./project";

const TITLES: [RegExp, string][] = [
  [/\/prompts\/[^/]+\/play$/, "Playground"],
  [/\/prompts\/[^/]+\/compare$/, "Compare"],
  [/\/prompts\/[^/]+\/diff$/, "Diff"],
  [/\/prompts\/[^/]+\/edit$/, "Edit"],
  [/\/prompts\/[^/]+$/, "Prompt"],
  [/\/parts\/.+\/edit$/, "Edit part"],
  [/\/parts\//, "Part"],
  [/\/review$/, "Review"],
  [/\/activity$/, "Activity"],
  [/\/logs$/, "Logs"],
  [/\/keys$/, "API keys"],
  [/\/new$/, "New prompt"],
  [/^\/p\/[^/]+\/?$/, "Prompts"],
];

function Titled() {
  const { pathname } = useLocation();
  useEffect(() => {
    const page = TITLES.find(([re]) => re.test(pathname))?.[1] ?? "Projects";
    const id = /\/prompts\/([^/]+)/.exec(pathname)?.[1];
    document.title = `${page}${id ? ` · ${decodeURIComponent(id)}` : ""} — Dakora Studio`;
  }, [pathname]);
  return <Outlet />;
}

function ProjectGate() {
  const project = useProjectOrNull();
  if (!project) {
    return (
      <div className="flex flex-col items-start gap-3">
        <h1 className="text-xl font-semibold">Project not found</h1>
        <p className="text-sm">It does not exist, or your key cannot read it.</p>
        <LinkButton to="/">All projects</LinkButton>
      </div>
    );
  }
  return <Outlet key={project.id} />;
}

function RouteError() {
  const error = useRouteError();
  return (
    <main id="main" className="mx-auto max-w-3xl p-4">
      <ErrorBox error={error instanceof Error ? error : new Error("This page failed to load.")} />
    </main>
  );
}

function NotFound() {
  return (
    <div className="flex flex-col items-start gap-3">
      <h1 className="text-xl font-semibold">No such page</h1>
      <LinkButton to="/">All projects</LinkButton>
    </div>
  );
}

const router = createBrowserRouter(
  [
    {
      element: <Titled />,
      errorElement: <RouteError />,
      children: [
        {
          element: <Layout />,
          children: [
            { index: true, element: <Projects /> },
            {
              path: "p/:project",
              element: <ProjectGate />,
              children: [
                { index: true, element: <Prompts /> },
                { path: "prompts/:promptId", element: <Prompt /> },
                { path: "prompts/:promptId/play", element: <Playground /> },
                { path: "prompts/:promptId/compare", element: <Compare /> },
                { path: "prompts/:promptId/diff", element: <Diff /> },
                { path: "prompts/:promptId/edit", element: <EditPrompt /> },
                { path: "parts/:category/:name", element: <Part /> },
                { path: "parts/:category/:name/edit", element: <EditPart /> },
                { path: "new", element: <NewPrompt /> },
                { path: "review", element: <Review /> },
                { path: "activity", element: <Activity /> },
                { path: "logs", element: <Logs /> },
                { path: "keys", element: <Keys /> },
              ],
            },
            { path: "*", element: <NotFound /> },
          ],
        },
      ],
    },
  ],
  { basename: "/studio" },
);

function Gate() {
  const { status, error, retry } = useAuth();
  if (status === "checking") {
    return (
      <main id="main" className="p-4">
        <h1 className="sr-only">Dakora Studio</h1>
        <Loading label="Connecting to the server…" />
      </main>
    );
  }
  if (status === "signed-out") return <SignIn />;
  if (status === "error") {
    return (
      <main id="main" className="mx-auto max-w-xl p-4">
        <h1 className="mb-3 text-xl font-semibold">Dakora Studio</h1>
        <ErrorBox error={error ?? new Error("unknown error")} />
        <Button className="mt-3" onClick={retry}>
          Try again
        </Button>
      </main>
    );
  }
  return <RouterProvider router={router} />;
}

export function App() {
  return (
    <AuthProvider>
      <Gate />
    </AuthProvider>
  );
}
