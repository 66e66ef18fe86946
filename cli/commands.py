"""Imports every command module so each registers its commands on ``main.app``."""

from dakora.cli import (  # noqa: F401
    admin,
    deploy,
    git_cmds,
    link,
    local,
    mirror,
    review,
    server,
    version,
)
