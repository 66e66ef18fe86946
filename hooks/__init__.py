"""dakora.hooks — the receive pipeline (checks new commits, applies refs atomically).

What other layers may import is re-exported here:

- ``ReceivePipeline`` (checks → project lock → CAS of every ref → ``on_accepted``),
  ``PushContext`` (who pushes where), ``PushResult`` (statuses per ref, findings,
  the ``remote:`` lines), ``RefUpdate``, ``DefaultChecker``;
- ``DakoraReceivePackHandler`` / ``make_receive_handler``: the pipeline inside dulwich's
  ``ReceivePackHandler`` (for ``make_wsgi_chain(handlers=…)``);
- ``Quarantine``, ``cleanup_stale``: pushed objects kept apart until accepted;
- ``ProjectLock`` (interface), ``LocalProjectLock`` (threads + fcntl);
- ``run_pre_receive``: the checks from inside git's own pre-receive hook;
- ``recover_projects``: start-up repair (stale leftovers, index vs refs).
"""

from dakora.hooks.locks import LocalProjectLock, ProjectLock
from dakora.hooks.pre_receive import run_pre_receive
from dakora.hooks.push_checks import DefaultChecker, RefUpdate
from dakora.hooks.quarantine import Quarantine, cleanup_stale
from dakora.hooks.receive import PushContext, PushResult, ReceivePipeline
from dakora.hooks.receive_pack import DakoraReceivePackHandler, make_receive_handler
from dakora.hooks.recovery import recover_projects

__all__ = [
    "DakoraReceivePackHandler",
    "DefaultChecker",
    "LocalProjectLock",
    "ProjectLock",
    "PushContext",
    "PushResult",
    "Quarantine",
    "ReceivePipeline",
    "RefUpdate",
    "cleanup_stale",
    "make_receive_handler",
    "recover_projects",
    "run_pre_receive",
]
