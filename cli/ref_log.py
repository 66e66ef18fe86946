"""``dakora history --ref-log REF``: every move of a ref — who, when, from what to
what, how (``source``), accepted or rejected (docs/promotion.md).

With ``--remote`` (or ``--project``) from the server's audit log
(``GET /api/projects/{project}/refs/{ref}/history``: git pushes, API writes,
promotions and the Studio's writes, refused ones too); locally from git's reflog of
the ref (accepted moves only: a local repository keeps no refused ones; a local
``dakora promote`` shows as ``promote``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dakora.cli.local_repo import open_repo
from dakora.cli.output import print_json, print_table
from dakora.registry.core import BadRequest, RefNotFound, StorageError


def local_moves(repo_path: Path, ref: str, limit: int) -> list[dict[str, Any]]:
    """The reflog of ``ref`` as history entries, newest first."""
    from dakora.registry.git import read_ref_log

    with open_repo(repo_path) as prompt_repo:
        repo = prompt_repo.repo
        names = (
            [ref]
            if ref.startswith("refs/")
            else [
                f"refs/heads/{ref}",
                f"refs/tags/{ref}",
            ]
        )
        known = {k.decode("utf-8", "replace") for k in repo.refs.as_dict()}
        for full in names:
            entries = read_ref_log(repo, full)
            if entries or full in known:
                return [
                    {
                        "ref": full,
                        "time": e.time.isoformat().replace("+00:00", "Z"),
                        "who": {"name": e.who},
                        "old": e.old,
                        "new": e.new,
                        "source": e.source,
                        "result": "accepted",
                        "messages": [e.message] if e.message else [],
                    }
                    for e in entries[:limit]
                ]
    raise RefNotFound(f"ref {ref!r} does not exist in {repo_path}", ref=ref)


def remote_moves(
    url: str | None, project: str | None, api_key: str | None, ref: str, limit: int
) -> list[dict[str, Any]]:
    """``GET /api/projects/{project}/refs/{ref}/history`` (one page of ``limit``)."""
    import httpx

    from dakora.client.config import resolve_remote

    url, api_key, project = resolve_remote(url, api_key, project)
    if url is None or not project:
        raise BadRequest(
            "--remote needs a server URL and --project (or DAKORA_URL and "
            "DAKORA_PROJECT, or a saved `dakora link`)"
        )
    segment = project.replace("/", "~")
    endpoint = f"{url}/api/projects/{segment}/refs/{ref}/history"
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        response = httpx.get(
            endpoint, params={"limit": limit}, headers=headers, timeout=60.0
        )
    except httpx.HTTPError as exc:
        raise StorageError(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        from dakora.client._errors import error_from_response

        raise error_from_response(response)
    try:
        moves: list[dict[str, Any]] = response.json()["moves"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"{endpoint} did not answer with a ref history") from exc
    return moves


def print_moves(moves: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(moves)
        return
    rows = []
    for m in moves:
        errors = [x for x in m.get("messages", []) if x.startswith("error:")]
        detail = (errors or m.get("messages") or [""])[0]
        rows.append(
            [
                m["time"].replace("T", " ")[:19],
                (m.get("who") or {}).get("name") or "",
                (m.get("old") or "(created)")[:12],
                (m.get("new") or "(deleted)")[:12],
                m["source"],
                m["result"],
                detail,
            ]
        )
    print_table(
        ["TIME (UTC)", "WHO", "OLD", "NEW", "SOURCE", "RESULT", "MESSAGE"], rows
    )
