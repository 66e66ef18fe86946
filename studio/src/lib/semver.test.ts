import { describe, expect, it } from "vitest";
import { bumpVersion, idInYaml, setVersionInYaml, versionInYaml } from "./semver";
import { includedParts, pyLiteral, snippets } from "./prompt";

describe("bumpVersion", () => {
  it("bumps each level", () => {
    expect(bumpVersion("1.2.3", "patch")).toBe("1.2.4");
    expect(bumpVersion("1.2.3", "minor")).toBe("1.3.0");
    expect(bumpVersion("1.2.3", "major")).toBe("2.0.0");
  });
  it("releases a pre-release", () => {
    expect(bumpVersion("2.0.0-rc.1", "major")).toBe("2.0.0");
    expect(bumpVersion("1.3.0-rc.1", "minor")).toBe("1.3.0");
    expect(bumpVersion("1.2.4-rc.1", "minor")).toBe("1.3.0");
  });
  it("refuses what is not semver", () => {
    expect(bumpVersion("1.0", "patch")).toBeNull();
  });
});

describe("version in the file text", () => {
  const src = 'id: hello\nversion: "0.1.0"  # keep\ndescription: x\ntemplate: |\n  version: not this\n';
  it("reads and replaces only the top-level key", () => {
    expect(versionInYaml(src)).toBe("0.1.0");
    expect(idInYaml(src)).toBe("hello");
    const out = setVersionInYaml(src, "0.2.0");
    expect(out).toBe('id: hello\nversion: "0.2.0" # keep\ndescription: x\ntemplate: |\n  version: not this\n');
    expect(versionInYaml("id: a\nversion: 1.0\n")).toBe("1.0");
  });
  it("adds a version after the id when missing", () => {
    expect(setVersionInYaml("id: a\ntemplate: x\n", "1.0.0")).toBe('id: a\nversion: "1.0.0"\ntemplate: x\n');
  });
});

describe("prompt helpers", () => {
  it("lists included parts", () => {
    expect(
      includedParts({
        template: '{% include "system/tone" %}\n{%- include \'format/bullets.md\' -%}\n{% include "system/tone" %}',
        messages: null,
      }),
    ).toEqual(["system/tone", "format/bullets"]);
    expect(includedParts({ template: null, messages: [{ role: "system", content: '{% include "persona/engineer" %}' }] })).toEqual([
      "persona/engineer",
    ]);
  });

  it("writes Python literals", () => {
    expect(pyLiteral({ a: true, b: null, c: [1, "x"], d: "say \"true\"" })).toBe(
      '{"a": True, "b": None, "c": [1, "x"], "d": "say \\"true\\""}',
    );
  });

  it("writes snippets for exactly one version", () => {
    const s = snippets({
      origin: "http://127.0.0.1:54321",
      project: "demo~demo",
      projectSlash: "demo/demo",
      promptId: "support-reply",
      version: "1.2.0",
      inputs: { customer: "O'Brien", urgent: true },
    });
    expect(s.curl).toContain(`'{"inputs":{"customer":"O'\\''Brien","urgent":true},"version":"1.2.0"}'`);
    expect(s.curl).toContain("/api/projects/demo~demo/prompts/support-reply/render");
    expect(s.python).toContain('version="1.2.0"');
    expect(s.python).toContain('{"customer": "O\'Brien", "urgent": True}');
    expect(s.cli).toBe(
      "dakora render support-reply --remote http://127.0.0.1:54321 --project demo/demo --version 1.2.0 -i 'customer=O'\\''Brien' -i 'urgent=true'",
    );
  });
});
