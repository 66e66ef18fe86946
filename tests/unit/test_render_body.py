"""A render response body built from the worker's half (``encode_result``, encoded in
the render worker) is the very bytes of the one encoded whole (``RenderJob.body``):
text and chat prompts, non-ASCII and escapes, and the same error for a result that
is not JSON."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from dakora.registry.content import RenderJob, RenderTarget, encode_result
from dakora.registry.core import Prompt, RenderError
from dakora.registry.load.parts import MemoryParts
from dakora.registry.render import RenderResult

PARTS = MemoryParts({})


def _job(ref: str | None, inputs: dict[str, Any]) -> RenderJob:
    prompt = Prompt(id="p-ü", version="1.2.0", template="x")
    target = RenderTarget(prompt, PARTS, "sha", "c0ffee", ref)
    return RenderJob(target, inputs)


@pytest.mark.parametrize(
    "result",
    [
        RenderResult("text", 'Grüße "quoted" \\ \n\t\u2028 😀', None, {}),
        RenderResult(
            "chat",
            None,
            [{"role": "system", "content": "é"}, {"role": "user", "content": ""}],
            {"a": [1, 2.5, None, True], "b": {"nested": "ß"}},
        ),
        RenderResult("text", "", None, {"n": 10**30, "f": 1e-7}),
    ],
)
@pytest.mark.parametrize("ref", ["main", None])
def test_the_split_body_is_the_whole_body(
    result: RenderResult, ref: str | None
) -> None:
    job = _job(ref, result.inputs_used)
    assert job.body_of(encode_result(result)) == job.body(result)


def test_a_result_that_is_not_json_is_the_same_error() -> None:
    result = RenderResult("text", "x", None, {"when": datetime.date(2026, 1, 1)})
    job = _job("main", result.inputs_used)
    with pytest.raises(RenderError) as whole:
        job.body(result)
    with pytest.raises(RenderError) as half:
        encode_result(result)
    assert half.value.message == whole.value.message
    assert half.value.details == whole.value.details
