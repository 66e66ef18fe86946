"""Tenancy: users, workspaces, members with roles, projects, and workspace token quotas.

The storage layer owns the transaction: each function here is one unit of work, and a
violated unique constraint (the database decides races) becomes ``AlreadyExists``.

A project owns a bare git repository at ``<data_dir>/repos/<workspace>/<project>.git``,
created with the project (HEAD → ``refs/heads/<default_branch>``). Projects are named by
their UUID or by ``workspace/slug`` (:func:`get_project`).

Quotas: each workspace has a tier (``Settings.quota_tiers``: tokens per calendar month,
UTC; 0 = unlimited). :func:`add_tokens` counts tokens and refuses with ``QuotaExceeded``
when the month's limit would be passed; a new month starts a new period on its own.

One module per job: ``records`` (records + naming rules), ``users``, ``workspaces``
(and members), ``projects``, ``project_cache`` (the server's cached lookup),
``quotas``, ``keys``, ``clerk``, ``svix``, ``provisioning``; other layers import from
this face.
"""

from __future__ import annotations

from dakora.registry.tenancy.clerk import ClerkVerifier
from dakora.registry.tenancy.deliveries import (
    claim_delivery,
    delivery_result,
    finish_delivery,
    release_delivery,
)
from dakora.registry.tenancy.exec_logs import log_page, record_log
from dakora.registry.tenancy.keys import (
    KEY_PREFIX,
    KeyRecord,
    touch_last_used,
    verify_key,
)
from dakora.registry.tenancy.project_cache import ProjectCache
from dakora.registry.tenancy.projects import (
    create_project,
    delete_project,
    get_project,
    list_projects,
    project_repo_path,
)
from dakora.registry.tenancy.provisioning import handle_clerk_event
from dakora.registry.tenancy.quotas import (
    add_tokens,
    get_quota,
    month_start,
    set_tier,
)
from dakora.registry.tenancy.records import (
    DEFAULT_PROJECT_SLUG,
    ROLE_RANK,
    SLUG_PATTERN,
    SLUG_RULE,
    Member,
    Project,
    QuotaStatus,
    User,
    Workspace,
    is_uuid,
    role_at_least,
    validate_branch,
    validate_kind,
    validate_role,
    validate_slug,
)
from dakora.registry.tenancy.svix import SvixVerifier, delivery_id
from dakora.registry.tenancy.users import (
    create_user,
    delete_user,
    external_user_roles,
    find_user,
    get_or_create_user,
    get_user,
    upsert_external_user,
)
from dakora.registry.tenancy.workspaces import (
    create_workspace,
    get_role,
    get_workspace,
    list_members,
    list_workspaces,
    remove_member,
    set_member,
)

__all__ = [
    "claim_delivery",
    "delivery_id",
    "delivery_result",
    "finish_delivery",
    "release_delivery",
    "DEFAULT_PROJECT_SLUG",
    "ClerkVerifier",
    "KEY_PREFIX",
    "KeyRecord",
    "SvixVerifier",
    "handle_clerk_event",
    "touch_last_used",
    "verify_key",
    "Member",
    "Project",
    "ProjectCache",
    "QuotaStatus",
    "ROLE_RANK",
    "SLUG_PATTERN",
    "SLUG_RULE",
    "User",
    "Workspace",
    "add_tokens",
    "create_project",
    "create_user",
    "create_workspace",
    "delete_project",
    "delete_user",
    "external_user_roles",
    "find_user",
    "get_or_create_user",
    "get_project",
    "get_quota",
    "get_role",
    "get_user",
    "get_workspace",
    "is_uuid",
    "list_members",
    "list_projects",
    "list_workspaces",
    "log_page",
    "month_start",
    "project_repo_path",
    "record_log",
    "remove_member",
    "role_at_least",
    "set_member",
    "set_tier",
    "upsert_external_user",
    "validate_branch",
    "validate_kind",
    "validate_role",
    "validate_slug",
]
