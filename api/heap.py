"""The server's heap and the cyclic garbage collector (docs/design.md §15, "Reads
while pushes run").

A full (generation 2) collection walks every tracked object of the process. After
start-up that is about 200,000 of them — modules, the FastAPI app, pydantic schemas,
SQLAlchemy tables — none of which will ever be garbage, and walking them took 130 ms
of CPU on the project's 2-core machine: one pause of the event loop that alone put a
warm GET's p99 far past its 50 ms target whenever it came (every few seconds while
pushes ran). :func:`freeze_startup_heap` collects once, then moves everything alive
into the permanent generation (``gc.freeze()``), so later collections walk only what
was made since (caches, requests).
"""

from __future__ import annotations

import gc
import threading

_FROZEN = False
_LOCK = threading.Lock()


def freeze_startup_heap() -> bool:
    """Collect, then freeze what is alive; once per process (True the first time).

    Objects frozen are never collected: anything of them that later ends in a
    reference cycle stays allocated. That is why this runs once, after start-up (what
    start-up built lives as long as the process), and not after every collection."""
    global _FROZEN
    with _LOCK:
        if _FROZEN:
            return False
        _FROZEN = True
    gc.collect()
    gc.freeze()
    return True
