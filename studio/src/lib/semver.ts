// The version-bump helper of the editor: next major/minor/patch of a semver string,
// and the `version:` line of a prompt file replaced in place (comments kept).

const SEMVER_RE = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export type Bump = "major" | "minor" | "patch";

export function parseSemver(v: string): [number, number, number, string | null] | null {
  const m = SEMVER_RE.exec(v.trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] ?? null];
}

/** The next version; a pre-release bumps to its release for the same level. */
export function bumpVersion(v: string, bump: Bump): string | null {
  const p = parseSemver(v);
  if (!p) return null;
  const [major, minor, patch, pre] = p;
  if (pre !== null) {
    if (bump === "patch" || (bump === "minor" && patch === 0) || (bump === "major" && minor === 0 && patch === 0)) {
      return `${major}.${minor}.${patch}`;
    }
  }
  if (bump === "major") return `${major + 1}.0.0`;
  if (bump === "minor") return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

const VERSION_LINE_RE = /^version:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^#\n]*?))[ \t]*(#.*)?$/m;

/** The `version:` of a prompt file's text (top-level key), or null. */
export function versionInYaml(source: string): string | null {
  const m = VERSION_LINE_RE.exec(source);
  if (!m) return null;
  return (m[1] ?? m[2] ?? m[3] ?? "").trim() || null;
}

/** The file with its top-level `version:` set to `version` (quoted, as it must be). */
export function setVersionInYaml(source: string, version: string): string {
  if (VERSION_LINE_RE.test(source)) {
    return source.replace(VERSION_LINE_RE, (_all, _d, _s, _p, comment: string | undefined) =>
      comment ? `version: "${version}" ${comment}` : `version: "${version}"`,
    );
  }
  const idLine = /^id:.*$/m.exec(source);
  if (idLine) {
    const end = idLine.index + idLine[0].length;
    return `${source.slice(0, end)}\nversion: "${version}"${source.slice(end)}`;
  }
  return `version: "${version}"\n${source}`;
}

/** The prompt's `id:` from its file text, or null. */
export function idInYaml(source: string): string | null {
  const m = /^id:[ \t]*["']?([a-z0-9][a-z0-9._-]*)["']?[ \t]*(#.*)?$/m.exec(source);
  return m?.[1] ?? null;
}
