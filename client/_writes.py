"""The request bodies, headers and query parameters of the SDK's writes (and of
``logs.create``), shared by ``Dakora`` and ``AsyncDakora``. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dakora.client._core import PROMPT_FIELDS, make_selector


def plain(value: Any) -> Any:
    """Mappings and sequences (not strings) as dicts and lists, for the JSON body."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def create_body(
    prompt_id: str, fields: Mapping[str, Any], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The POST body: the prompt's fields (None left out), branch and message."""
    body: dict[str, Any] = {"id": prompt_id}
    body.update({k: plain(v) for k, v in fields.items() if v is not None})
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def update_body(
    prompt_id: str,
    current: Mapping[str, Any],
    fields: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The PUT body: the current prompt's fields with the given ones over them.

    ``template`` and ``messages`` replace each other (a prompt has exactly one);
    empty values the server reports for absent keys (``examples: []``) are not
    written back."""
    merged: dict[str, Any] = {}
    for key in PROMPT_FIELDS:
        value = current.get(key)
        if value is None or value == [] or value == {}:
            continue
        merged[key] = value
    given = {k: plain(v) for k, v in fields.items() if v is not None}
    if "template" in given:
        merged.pop("messages", None)
    if "messages" in given:
        merged.pop("template", None)
    merged.update(given)
    merged["id"] = prompt_id
    merged.update({k: v for k, v in extra.items() if v is not None})
    return merged


def part_body(
    content: str,
    ext: str | None,
    branch: str | None,
    message: str | None,
    *,
    category: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    fields = {
        "category": category,
        "name": name,
        "ext": ext,
        "content": content,
        "branch": branch,
        "message": message,
    }
    return {k: v for k, v in fields.items() if v is not None}


def if_match_headers(if_match: str | None) -> dict[str, str]:
    return {"If-Match": if_match} if if_match is not None else {}


def delete_params(branch: str | None, message: str | None) -> dict[str, str]:
    params = {"branch": branch, "message": message}
    return {k: v for k, v in params.items() if v is not None}


def read_params(ref: str | None, commit: str | None) -> dict[str, str]:
    selector = make_selector(ref=ref, commit=commit)
    return {selector[0]: selector[1]} if selector else {}


def log_body(**fields: Any) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if v is not None}
    if "inputs" in body:
        body["inputs"] = dict(body["inputs"])
    return body
