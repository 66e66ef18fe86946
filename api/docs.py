"""``/docs``: Swagger UI served from this server, so it works with no internet.

FastAPI's own ``/docs`` page loads Swagger UI's script and stylesheet (and a favicon)
from a CDN, and is blank offline or behind a strict proxy. The files ship in the
``fastapi-offline`` package (Swagger UI's distribution files, kept current there);
they are mounted at ``/docs/static`` and the page is FastAPI's ``get_swagger_ui_html``
pointed at them. The validator badge (which would call an outside validator) is off.
ReDoc is not served (``redoc_url=None``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs/static"


def _assets_dir() -> Path:
    folder = Path(str(files("fastapi_offline") / "static"))
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
        if not (folder / name).is_file():  # a broken install: fail at start-up
            raise RuntimeError(f"fastapi-offline ships no static/{name} in {folder}")
    return folder


def install_docs(app: FastAPI) -> None:
    """Mount the Swagger UI files and serve ``/docs`` (the app has ``docs_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=_assets_dir()), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},
        )
