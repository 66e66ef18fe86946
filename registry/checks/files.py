"""Per-file check rules: safe paths and file size (``unsafe-path``,
``file-too-large``), and the template rules of one prompt or part
(``template-syntax``, ``include-error``, ``undeclared-variable``, ``unused-input``,
``missing-include``, ``unsafe-template``), with lines mapped back to the YAML file."""

from __future__ import annotations

import hashlib
import re

from jinja2 import TemplateSyntaxError

from dakora.registry.core import DakoraError, Finding, LruCache, RenderError
from dakora.registry.git import (
    MAX_PROMPT_FILE_BYTES,
    PartsSource,
    Snapshot,
    unsafe_path_reason,
)
from dakora.registry.load import LoadedPrompt
from dakora.registry.render import (
    ANALYSIS_ENV,
    TemplateInfo,
    analyze_template,
    too_big_source,
    unsafe_accesses,
)

MAX_FILE_BYTES = MAX_PROMPT_FILE_BYTES  # 256 KiB, any registry file

# Names a template may use without declaring them: the sandbox's globals.
_GLOBALS = frozenset({"range", "dict", "namespace"})


_TEMPLATE_ERROR_PREFIX = re.compile(r"^template (?:syntax )?error at line \d+: ")


def path_findings(snapshot: Snapshot, path: str) -> list[Finding]:
    unsafe = unsafe_path_reason(path)
    if unsafe is not None:
        return [Finding.error(path, None, unsafe, "unsafe-path")]
    if snapshot.is_symlink(path):
        return [Finding.error(path, None, "symlinks are not allowed", "unsafe-path")]
    size = snapshot.size(path)
    if size > MAX_FILE_BYTES:
        return [
            Finding.error(
                path,
                None,
                f"file is {size} bytes; the limit is {MAX_FILE_BYTES} (256 KiB)",
                "file-too-large",
            )
        ]
    return []


def _syntax_line(exc: TemplateSyntaxError, base: int) -> int:
    return base + max(exc.lineno or 1, 1) - 1


_ANALYSIS: LruCache[tuple[str, str], TemplateInfo | tuple[str, dict[str, object]]] = (
    LruCache(16_384)
)


def skeleton_key(source: str) -> str | None:
    """A hash of the template's tokens with the text between tags blanked: the
    tags and expressions, each token with its line number. Analysis reads only
    those (names, includes, attribute accesses, syntax, and lines), so two templates
    with one skeleton have one ``TemplateInfo``. None when the source does not lex
    or is too large (the full analysis reports that)."""
    if too_big_source(source):
        return None
    digest = hashlib.sha1()
    try:
        for lineno, token, value in ANALYSIS_ENV.lexer.tokeniter(source, None):
            text = "" if token == "data" else value
            field = f"{lineno}:{token}:{len(text)}:{text}"  # unambiguous joins
            digest.update(field.encode("utf-8", "surrogatepass"))
    except TemplateSyntaxError:
        return None
    return digest.hexdigest()


def _analyze(source: str, parts: PartsSource) -> TemplateInfo:
    """``analyze_template`` memoised by (source hash, parts key): prompts that share a
    template text (and unchanged prompts across commits) are analysed once; and by
    (skeleton, parts key): prompts whose templates differ only in the text between
    tags (generated variants) are parsed and analysed once."""
    key = (hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest(), parts.key)
    hit = _ANALYSIS.get(key)
    if hit is None:
        skeleton = skeleton_key(source)
        shape = ("skeleton:" + skeleton, parts.key) if skeleton else None
        hit = _ANALYSIS.get(shape) if shape is not None else None
        if hit is None:
            try:
                hit = analyze_template(source, parts)
            except DakoraError as exc:
                hit = (exc.message, dict(exc.details))
            if shape is not None:
                _ANALYSIS.put(shape, hit)
        _ANALYSIS.put(key, hit)
    if isinstance(hit, tuple):
        raise RenderError(hit[0], **hit[1])
    return hit


def template_findings(loaded: LoadedPrompt, parts: PartsSource) -> list[Finding]:
    """Compile, undeclared / unused inputs and include targets of one prompt."""
    prompt = loaded.prompt
    path = loaded.path
    declared = set(prompt.inputs)
    used_everywhere: set[str] = set()
    out: list[Finding] = []
    analyzed_all = True
    for label, source in prompt.sources():
        base = loaded.source_line(label)
        # analyze_template parses and runs jinja's code generator with the
        # sandbox's filters: syntax errors, unknown filters/tests all land here.
        try:
            info = _analyze(source, parts)
        except DakoraError as exc:
            line = exc.details.get("line")
            detail = _TEMPLATE_ERROR_PREFIX.sub("", exc.message)
            out.append(
                Finding.error(
                    path,
                    base + line - 1 if isinstance(line, int) and line > 0 else base,
                    f"template syntax error in {label}: {detail}",
                    "template-syntax",
                )
            )
            analyzed_all = False
            continue
        for problems, rule in (
            (info.errors, "include-error"),
            (info.unsafe, "unsafe-template"),
        ):
            out.extend(
                Finding.error(
                    path, base + max(line, 1) - 1, f"{label}: {message}", rule
                )
                for message, line in problems
            )
        used = set(info.variables) - _GLOBALS
        used_everywhere |= used
        for name in sorted(used - declared):
            line = base + info.variable_lines.get(name, 1) - 1
            out.append(
                Finding.error(
                    path,
                    line,
                    f"unknown input '{name}' used in {label}",
                    "undeclared-variable",
                )
            )
        for name, line in info.missing_includes:
            out.append(
                Finding.error(
                    path,
                    base + max(line, 1) - 1,
                    f"include target '{name}' not found in parts/",
                    "missing-include",
                )
            )
    if analyzed_all:
        for name in sorted(declared - used_everywhere):
            out.append(
                Finding.warning(
                    path,
                    loaded.line_of(f"inputs.{name}"),
                    f"input '{name}' is declared but never used",
                    "unused-input",
                )
            )
    return out


def part_findings(snapshot: Snapshot, path: str) -> list[Finding]:
    data = snapshot.read(path)
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [
            Finding.error(
                path,
                line,
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                "template-syntax",
            )
        ]
    try:
        ast = ANALYSIS_ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [
            Finding.error(
                path,
                _syntax_line(exc, 1),
                f"template syntax error: {exc.message}",
                "template-syntax",
            )
        ]
    return [
        Finding.error(path, line, message, "unsafe-template")
        for message, line in unsafe_accesses(ast)
    ]
