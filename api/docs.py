"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with every asset served by the app itself.

FastAPI's own pages load their JavaScript, CSS, favicon and (ReDoc) web fonts from CDNs, so
on an intranet that reaches no CDN they are blank. These pages load the same tools from
``/static/docs/``: the files shipped by the ``fastapi-offline`` package (Swagger UI,
Apache-2.0; ReDoc, MIT; the package itself MIT), served from its installed folder; ReDoc's
bundle with its sidebar logo's CDN address replaced by the app's own icon.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "PREFIX", "install_docs"]

ASSETS = Path(fastapi_offline.__file__).with_name("static")
PREFIX = "/static/docs"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
# ReDoc's sidebar shows its maker's logo from their CDN: served with the app's own icon instead
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def redoc_js() -> bytes:
    """ReDoc's bundle with its one CDN reference (the sidebar logo) pointed at this app."""
    return (
        (ASSETS / "redoc.standalone.js")
        .read_bytes()
        .replace(REDOC_LOGO, f"{PREFIX}/favicon.png".encode())
    )


def install_docs(app: FastAPI) -> None:
    """Mount the assets and add the two pages (create the app with ``docs_url=None`` and
    ``redoc_url=None``)."""
    missing = [name for name in FILES if not (ASSETS / name).is_file()]
    if missing:  # pragma: no cover - a broken install of fastapi-offline
        raise RuntimeError(f"API docs assets missing from {ASSETS}: {', '.join(missing)}")
    title = app.title

    @app.get(f"{PREFIX}/redoc.standalone.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(redoc_js(), media_type="text/javascript", headers=headers)

    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} · API",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} · API (ReDoc)",
            redoc_js_url=f"{PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/favicon.png",
            with_google_fonts=False,
        )
