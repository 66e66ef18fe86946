"""The server's render pool (``dakora.api.render_pool``) with real worker processes:
results and errors come back as from ``Renderer``, a worker stuck in one long
operation is killed at the budget and replaced, a worker that dies is replaced; and
the same on the event loop's pipeline (``render_async``: several renders queued per
worker), where the renders queued behind a killed worker still succeed."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dakora.api.render_pool import RenderPool
from dakora.registry.core.errors import RenderError, RenderLimitError
from dakora.registry.core.model import Prompt
from dakora.registry.load.parts import MemoryParts
from dakora.registry.render.renderer import Renderer

PARTS = MemoryParts({"a/b.md": "part {{ x }}", "a/c.md": '{% include "a/b" %}!'})


def text(source: str, pid: str = "t") -> Prompt:
    return Prompt(id=pid, version="1.0.0", template=source)


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    p = RenderPool(2000, 2)
    yield p
    p.close()


def test_renders_like_the_renderer(pool: RenderPool) -> None:
    prompt = text('hi {{ x }} {% include "a/c" %}')
    for x in (1, 2):
        got = pool.render(prompt, {"x": x}, PARTS, cache_key="k")
        assert got == Renderer().render(prompt, {"x": x}, PARTS, cache_key="k")
    chat = Prompt.model_validate(
        {
            "id": "c",
            "version": "1.0.0",
            "messages": [{"role": "user", "content": "{{ x }}"}],
        }
    )
    got = pool.render(chat, {"x": "y"}, PARTS)
    assert got.kind == "chat" and got.messages == [{"role": "user", "content": "y"}]


def test_errors_come_back_with_their_class_and_details(pool: RenderPool) -> None:
    with pytest.raises(RenderLimitError) as info:
        pool.render(text("{{ 'a' * 10**9 }}", "bomb"), {}, PARTS)
    assert info.value.details["limit"] == "value_size"
    assert info.value.details["line"] == 1
    with pytest.raises(RenderError) as err:
        pool.render(text("{{ nope }}", "undef"), {}, PARTS)
    assert not isinstance(err.value, RenderLimitError)
    assert err.value.details["variable"] == "nope"


def test_concurrent_renders(pool: RenderPool) -> None:
    prompt = text("{{ x * 2 }}", "conc")
    with ThreadPoolExecutor(8) as ex:
        results = list(
            ex.map(lambda i: pool.render(prompt, {"x": i}, PARTS).rendered, range(64))
        )
    assert results == [str(i * 2) for i in range(64)]
    assert pool.workers <= pool.size


def test_a_worker_stuck_in_one_long_operation_is_killed_and_replaced() -> None:
    # One sort of a million items: a single call the sandbox's cooperative checks
    # cannot interrupt (no loop iteration, call or filter in between).
    stuck = text("{{ ('ab' * 500000) | list | sort | length }}", "stuck")
    # the worker's own budget (60 s) never fires first: only the kill can stop it
    pool = RenderPool(60_000, 1, kill_after_s=30.0)
    try:
        assert pool.render(text("ok"), {}, PARTS).rendered == "ok"  # warm
        pool.kill_after_s = 0.1
        with pytest.raises(RenderLimitError) as info:
            pool.render(stuck, {}, PARTS)
        assert info.value.details == {"limit": "timeout_ms", "max": 60_000}
        assert pool.kills == 1 and pool.workers == 0
        pool.kill_after_s = 30.0
        assert pool.render(text("ok"), {}, PARTS).rendered == "ok"  # a new worker
        assert pool.workers == 1
    finally:
        pool.close()


def test_a_worker_that_dies_is_replaced() -> None:
    pool = RenderPool(2000, 1)
    try:
        assert pool.render(text("a"), {}, PARTS).rendered == "a"
        (worker,) = pool._pool._all
        assert worker.process.pid is not None
        os.kill(worker.process.pid, signal.SIGKILL)  # while idle
        worker.process.join(10)
        # the dead idle worker is noticed when handed out, and replaced first
        assert pool.render(text("b"), {}, PARTS).rendered == "b"
        assert pool.kills == 1
        (replacement,) = pool._pool._all
        assert replacement is not worker
    finally:
        pool.close()


# -- the pipeline (render_async on an event loop)


def test_the_pipeline_renders_many_at_once_in_order_of_their_inputs() -> None:
    pool = RenderPool(2000, 2)
    prompt = text("{{ x * 2 }} {% include 'a/c' %}", "pipe")

    async def main() -> list[str]:
        results = await asyncio.gather(
            *(pool.render_async(prompt, {"x": i}, PARTS) for i in range(200))
        )
        return [r.rendered or "" for r in results]

    try:
        assert asyncio.run(main()) == [f"{i * 2} part {i}!" for i in range(200)]
        assert pool.workers <= pool.size and pool.kills == 0
        # errors come back per render, with their class and details
        bad = text("{{ nope }}", "undef")

        async def mixed() -> list[Any]:
            return await asyncio.gather(
                pool.render_async(bad, {}, PARTS),
                pool.render_async(prompt, {"x": 1}, PARTS),
                return_exceptions=True,
            )

        err, ok = asyncio.run(mixed())  # a new loop: the pipeline moves to it
        assert isinstance(err, RenderError) and err.details["variable"] == "nope"
        assert ok.rendered == "2 part 1!"
    finally:
        pool.close()


def test_a_thread_renders_through_the_running_pipeline() -> None:
    pool = RenderPool(2000, 1)
    prompt = text("{{ x }}", "thread")

    async def main() -> list[str]:
        await pool.render_async(prompt, {"x": 0}, PARTS)  # the loop drives it now
        loop = asyncio.get_running_loop()
        threaded = [
            loop.run_in_executor(None, lambda i=i: pool.render(prompt, {"x": i}, PARTS))
            for i in range(20)
        ]
        return [r.rendered or "" for r in await asyncio.gather(*threaded)]

    try:
        assert asyncio.run(main()) == [str(i) for i in range(20)]
        assert pool.workers == 1
    finally:
        pool.close()


async def _when(condition: Any, then: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)
    then()


def test_the_renders_queued_behind_a_killed_worker_still_succeed() -> None:
    stuck = text("{{ ('ab' * n) | list | sort | length }}", "stuck")
    fast = text("fast {{ x }}", "fast")
    pool = RenderPool(60_000, 1, kill_after_s=30.0)

    async def main() -> list[Any]:
        # warm: one worker, held, that knows both prompts (no miss to answer first)
        await pool.render_async(stuck, {"n": 1}, PARTS)
        await pool.render_async(fast, {"x": -1}, PARTS)
        pool.kill_after_s = 0.1
        renders = [pool.render_async(stuck, {"n": 500000}, PARTS)]
        renders += [pool.render_async(fast, {"x": i}, PARTS) for i in range(5)]

        def relax() -> None:
            pool.kill_after_s = 30.0  # the replacement's renders are not rushed

        return await asyncio.gather(
            *renders, _when(lambda: pool.kills == 1, relax), return_exceptions=True
        )

    try:
        killed, *rest, _ = asyncio.run(main())
        assert isinstance(killed, RenderLimitError)
        assert killed.details == {"limit": "timeout_ms", "max": 60_000}
        assert [r.rendered for r in rest] == [f"fast {i}" for i in range(5)]
        assert pool.kills == 1 and pool.workers == 1
    finally:
        pool.close()


def test_the_renders_queued_behind_a_worker_that_died_still_succeed() -> None:
    slow = text("{{ ('ab' * n) | list | sort | length }}", "slow")
    fast = text("fast {{ x }}", "fast")
    pool = RenderPool(60_000, 1, kill_after_s=30.0)

    async def main() -> list[Any]:
        await pool.render_async(slow, {"n": 1}, PARTS)
        await pool.render_async(fast, {"x": -1}, PARTS)
        (worker,) = pool._pool._all
        renders = [asyncio.ensure_future(pool.render_async(slow, {"n": 500000}, PARTS))]
        renders += [
            asyncio.ensure_future(pool.render_async(fast, {"x": i}, PARTS))
            for i in range(3)
        ]
        await asyncio.sleep(0.05)  # the slow render is running, the others queued
        assert len(worker.inflight) == 4
        assert worker.process.pid is not None
        os.kill(worker.process.pid, signal.SIGKILL)
        return await asyncio.gather(*renders, return_exceptions=True)

    try:
        died, *rest = asyncio.run(main())
        assert isinstance(died, RenderLimitError)
        assert died.details["limit"] == "memory"
        assert [r.rendered for r in rest] == [f"fast {i}" for i in range(3)]
        assert pool.kills == 1
    finally:
        pool.close()
