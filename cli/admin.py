"""``dakora db …`` and ``dakora admin …``: the database and tenants, by hand.

Every command works against the configured database (``DAKORA_DATABASE_URL``, else
SQLite in ``--data-dir`` / ``DAKORA_DATA_DIR``) and takes ``--json`` for scripts. Errors
come out through ``cli_errors`` (one message, or one JSON error body, and an exit code).

Shared options and the engine are in ``admin_support``; the commands in ``admin_db``,
``admin_tenants``, ``admin_keys``, ``admin_gc`` and ``admin_webhooks``. Importing this module registers them (in that
order).
"""

from __future__ import annotations

# Importing a command module registers its commands: keep this order.
# isort: off
from dakora.cli import admin_db  # noqa: F401
from dakora.cli import admin_tenants  # noqa: F401
from dakora.cli import admin_keys  # noqa: F401
from dakora.cli import admin_gc  # noqa: F401
from dakora.cli import admin_webhooks  # noqa: F401

# isort: on
from dakora.cli.admin_support import admin_app, app, db_app

__all__ = ["admin_app", "app", "db_app"]
