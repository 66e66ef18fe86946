"""The ``unsafe-template`` check: dunder/mangled access is refused statically, with
file:line, in prompts and in parts (the sandbox would refuse it at render time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dulwich.repo import Repo

from dakora.registry.checks.run import RULES, check_push, check_snapshot
from dakora.registry.core.errors import RenderError
from dakora.registry.core.findings import Finding
from dakora.registry.core.model import Prompt
from dakora.registry.git.folder_snapshot import FolderSnapshot
from dakora.registry.load.parts import MemoryParts
from dakora.registry.render import sandbox
from dakora.registry.render.analysis import analyze_template
from dakora.registry.render.renderer import Renderer
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml

INPUTS = {"name": {"type": "string"}, "doc": {"type": "object"}}

# (template, the name the finding quotes); line 2 of the template is file line 5.
BAD = [
    ("{{ ''.__class__.__mro__ }}", "__mro__"),
    ("{{ doc['__globals__'] }}", "__globals__"),
    ("{{ self._TemplateReference__context }}", "_TemplateReference__context"),
    ("{{ range.__init__.__globals__ }}", "__globals__"),
    ("{{ doc | attr('__class__') }}", "__class__"),
    ("{% for x in doc.__class__.__subclasses__() %}{% endfor %}", "__class__"),
    ("{% set f = name.__len__ %}{{ f }}", "__len__"),
]

GOOD = [
    "{{ doc.title }}",
    "{{ doc['key'] }}",
    "{{ doc[name] }}",  # a variable key: nothing to know statically
    "{{ '_' ~ name ~ '__class__' }}",
    "{{ name | default('_x') }}",
    "{% for _ in range(2) %}{{ _ }}{% endfor %}",
    "{{ doc.items() | list | length }}",
    "{{ doc['a']['b'].c }}",
    "{{ doc._id }} {{ doc['_id'] }}",  # plain data keys, e.g. a Mongo-style _id
]


def _write(root: Path, files: dict[str, str]) -> FolderSnapshot:
    for path, text in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
    return FolderSnapshot(root)


def _unsafe(found: list[Finding]) -> list[tuple[str, int | None, str]]:
    assert all(f.rule in RULES for f in found), found
    return sorted(
        (f.path, f.line, f.message) for f in found if f.rule == "unsafe-template"
    )


def test_rule_is_listed() -> None:
    assert "unsafe-template" in RULES


@pytest.mark.parametrize(("template", "name"), BAD)
def test_bad_template_is_refused_with_its_line(
    tmp_path: Path, template: str, name: str
) -> None:
    snap = _write(
        tmp_path,
        {
            "prompts/p.yaml": make_prompt_yaml(
                template=f"Hello\n{template}\n", inputs=INPUTS
            )
        },
    )
    found = check_snapshot(snap)
    unsafe = [f for f in found if f.rule == "unsafe-template"]
    assert unsafe, found
    assert all(f.severity == "error" and f.path == "prompts/p.yaml" for f in unsafe)
    assert all(f.line == 5 for f in unsafe)
    assert any(f"'{name}'" in f.message for f in unsafe), unsafe
    assert unsafe[0].format().startswith("prompts/p.yaml:5: error: template: access")


@pytest.mark.parametrize(("template", "name"), BAD)
def test_bad_templates_also_fail_at_render_time(template: str, name: str) -> None:
    """The rule refuses what the sandbox refuses (nothing here may execute)."""
    prompt = Prompt.model_validate(
        {"id": "p", "version": "1.0.0", "template": template, "inputs": INPUTS}
    )
    inputs: dict[str, Any] = {"name": "n", "doc": {"title": "t"}}
    with pytest.raises(RenderError):
        Renderer().render(prompt, inputs, MemoryParts({}))


@pytest.mark.parametrize("template", GOOD)
def test_good_template_passes(tmp_path: Path, template: str) -> None:
    snap = _write(
        tmp_path,
        {
            "prompts/p.yaml": make_prompt_yaml(
                template=f"Hello\n{template}\n", inputs=INPUTS
            )
        },
    )
    assert _unsafe(check_snapshot(snap)) == []


def test_unsafe_access_inside_an_included_part(tmp_path: Path) -> None:
    snap = _write(
        tmp_path,
        {
            "parts/evil/leak.md": "fine\n{{ name.__class__ }}\n",
            "parts/ok/wrap.md": '{% include "evil/leak" %}\n',
            "prompts/direct.yaml": make_prompt_yaml(
                id="direct",
                template='Hi {{ name }}\n{% include "evil/leak" %}\n',
            ),
            "prompts/nested.yaml": make_prompt_yaml(
                id="nested",
                template='Hi {{ name }}\n\n{% include "ok/wrap" %}\n',
            ),
            "prompts/clean.yaml": make_prompt_yaml(id="clean"),
        },
    )
    message = (
        "template: in part 'evil/leak': access to '__class__': dunder and name-mangled "
        "names are refused by the sandbox (parts/evil/leak.md, line 2)"
    )
    assert _unsafe(check_snapshot(snap)) == [
        (
            "parts/evil/leak.md",
            2,
            "access to '__class__': dunder and name-mangled names are refused by the sandbox",
        ),
        ("prompts/direct.yaml", 5, message),  # the line of the include
        ("prompts/nested.yaml", 6, message),
    ]


def test_chat_message_lines(tmp_path: Path) -> None:
    text = make_prompt_yaml(
        messages=[
            {"role": "system", "content": "Be kind.\n"},
            {"role": "user", "content": "Hi {{ name }}\n{{ name.__doc__ }}\n"},
        ]
    )
    snap = _write(tmp_path, {"prompts/chat.yaml": text})
    lines = text.splitlines()
    expected = next(i for i, line in enumerate(lines, 1) if "__doc__" in line)
    assert [(p, line) for p, line, _ in _unsafe(check_snapshot(snap))] == [
        ("prompts/chat.yaml", expected)
    ]


def test_analysis_reads_the_ast_without_compiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_compile(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the unsafe-template check must not compile")

    monkeypatch.setattr(sandbox.SandboxEnv, "compile", no_compile)
    parts = MemoryParts({"x/deep.md": "\n\n{{ cycler.__init__.__globals__ }}"})
    info = analyze_template("a\n{{ ''.__class__ }}\n{% include 'x/deep' %}", parts)
    assert [line for _, line in info.unsafe] == [2, 3, 3]  # __init__, __globals__
    assert "'__class__'" in info.unsafe[0][0]
    assert "x/deep" in info.unsafe[1][0] and "line 3)" in info.unsafe[1][0]


def test_push_with_an_unsafe_template_is_refused(tmp_path: Path) -> None:
    r = GitRepoBuilder.init(tmp_path / "push")
    r.write("prompts/greeting.yaml", make_prompt_yaml())
    base = r.commit("base")
    r.write("parts/evil/leak.md", "{{ self._TemplateReference__context }}\n")
    r.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(
            version="1.0.1", template='Hello {{ name }}!\n{% include "evil/leak" %}\n'
        ),
    )
    tip = r.commit("leak")
    found = check_push(Repo(str(r.path)).object_store, base, tip, exclude=[base])
    assert [
        (f.path, f.line, f.severity) for f in found if f.rule == "unsafe-template"
    ] == [
        ("parts/evil/leak.md", 1, "error"),
        ("prompts/greeting.yaml", 5, "error"),
    ]
