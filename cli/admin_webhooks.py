"""``dakora admin webhooks add | list | remove | deliveries``: a project's outgoing
webhooks (docs/webhooks.md), straight in the database.

``add`` prints the Standard Webhooks signing secret (``whsec_…``) once; nothing shows
it again. The URL checks are the server's: http(s) only, and a host resolving to a
non-public address is refused unless ``DAKORA_WEBHOOKS_ALLOW_PRIVATE=true`` in this
command's environment (the server checks again at every delivery, with its own).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dakora.cli.admin_support import (
    DataDir,
    JsonFlag,
    ProjectArg,
    admin_app,
    load_settings,
    open_engine,
    say,
)
from dakora.cli.commands import command_app
from dakora.cli.output import cli_errors, make_console, print_json, print_table

webhooks_app = command_app(
    help="Outgoing webhooks of a project: add, list, remove, and the delivery log.",
    no_args_is_help=True,
)
admin_app.add_typer(webhooks_app, name="webhooks")

EVENTS_HELP = (
    "Comma-separated events: prompt.version.created, ref.updated, push.rejected "
    "(default: all)."
)
WebhookArg = Annotated[str, typer.Argument(help="The webhook's URL or id.")]


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


@webhooks_app.command("add")
def add(
    project: ProjectArg,
    url: Annotated[str, typer.Argument(help="http(s) URL of the receiver.")],
    events: Annotated[str | None, typer.Option("--events", help=EVENTS_HELP)] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Subscribe a URL to a project's events and print its signing secret — the only
    time it is shown."""
    from dakora.registry import tenancy
    from dakora.registry.webhooks import add_endpoint

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            new = add_endpoint(
                engine,
                target.id,
                url,
                events,
                allow_private=settings.webhooks_allow_private,
            )
        if json_out:
            body = new.endpoint.to_dict()
            body["secret"] = new.secret
            body["project"] = target.full_name
            print_json(body)
            return
        say(new.secret)
        make_console(stderr=True).print(
            f"webhook {new.endpoint.id} of {target.full_name}: {new.endpoint.url} "
            f"({', '.join(new.endpoint.events)}). This is its signing secret; store "
            "it now: it is not shown again.",
            markup=False,
        )


@webhooks_app.command("list")
def list_(
    project: ProjectArg, data_dir: DataDir = None, json_out: JsonFlag = False
) -> None:
    """List a project's webhooks with their delivery counts (never the secrets)."""
    from dakora.registry import tenancy
    from dakora.registry.webhooks import list_endpoints

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            found = list_endpoints(engine, target.id)
        if json_out:
            print_json(
                {
                    "project": target.full_name,
                    "project_id": target.id,
                    "webhooks": [e.to_dict() for e in found],
                }
            )
            return
        print_table(
            ["id", "url", "events", "pending", "delivered", "failed", "created"],
            [
                [
                    e.id,
                    e.url,
                    ",".join(e.events),
                    e.deliveries.pending,
                    e.deliveries.delivered,
                    e.deliveries.failed,
                    _when(e.created_at),
                ]
                for e in found
            ],
            title=f"Webhooks of {target.full_name}",
        )


@webhooks_app.command("remove")
def remove(
    project: ProjectArg,
    webhook: WebhookArg,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Remove a webhook (by URL or id) with its delivery log."""
    from dakora.registry import tenancy
    from dakora.registry.webhooks import remove_endpoint

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            gone = remove_endpoint(engine, target.id, webhook)
        if json_out:
            print_json(gone.to_dict())
            return
        say(f"removed webhook {gone.id} ({gone.url}) of {target.full_name}")


@webhooks_app.command("deliveries")
def deliveries(
    project: ProjectArg,
    webhook: WebhookArg,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only pending, delivered or failed ones."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=500, help="At most this many.")
    ] = 50,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """A webhook's delivery log, newest first: status, attempts, last error."""
    from dakora.registry import tenancy
    from dakora.registry.core import BadRequest
    from dakora.registry.webhooks import (
        DELIVERY_STATUSES,
        delivery_dict,
        delivery_page,
        get_endpoint,
    )

    with cli_errors(json_out):
        if status is not None and status not in DELIVERY_STATUSES:
            raise BadRequest(
                f"--status must be one of {', '.join(DELIVERY_STATUSES)}, not "
                f"{status!r}"
            )
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            endpoint = get_endpoint(engine, target.id, webhook)
            rows, _next = delivery_page(
                engine, target.id, endpoint_id=endpoint.id, status=status, limit=limit
            )
        found = [delivery_dict(r) for r in rows]
        if json_out:
            print_json({"webhook": endpoint.to_dict(), "deliveries": found})
            return
        print_table(
            ["id", "event", "status", "attempts", "code", "last error", "created"],
            [
                [
                    d["id"],
                    d["event"],
                    d["status"],
                    d["attempts"],
                    d["last_status_code"] or "-",
                    (d["last_error"] or "-")[:80],
                    d["created_at"],
                ]
                for d in found
            ],
            title=f"Deliveries of {endpoint.url}",
        )
