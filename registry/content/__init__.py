"""The read path without a web framework: which content a request selects
(``selectors``), how a selector resolves to a commit through the index or the
repository and the caches below the bodies (``resolver``), the encoded response bodies
cached per commit and blob (``store``: ``ContentStore``), the renders it prepares
(``render_jobs``), and the ETags and the
``If-None-Match`` / ``If-Match`` headers that name them (``etags``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.content.etags import (
    etag,
    etag_matches,
    etag_values,
    if_match_satisfied,
)
from dakora.registry.content.render_jobs import (
    RenderJob,
    RenderTarget,
    encode,
    encode_render,
    encode_result,
    render_failure,
)
from dakora.registry.content.selectors import DEFAULT_SELECTOR, Resolved, Selector
from dakora.registry.content.store import Body, ContentStore

__all__ = [
    "DEFAULT_SELECTOR",
    "Body",
    "ContentStore",
    "RenderJob",
    "RenderTarget",
    "Resolved",
    "Selector",
    "encode",
    "encode_render",
    "encode_result",
    "etag",
    "etag_matches",
    "etag_values",
    "if_match_satisfied",
    "render_failure",
]
