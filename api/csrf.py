"""Cross-site request forgery: every form a signed-in person posts carries a token.

The token is the synchronizer token of the person's server-side session
(:class:`insutrace.api.sessions.Session`), random per session and never in a cookie. A page
puts it in each form::

    <form method="post" action="…">
      <input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">

and the route that takes the post depends on :func:`require_csrf`, which refuses (403, a
bilingual page) a post without a session or whose token does not match the session's. The
sign-in form, posted before there is a session, is checked by :func:`same_origin` instead
(login CSRF: a post whose ``Origin``, or else ``Referer``, names another site is refused).
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from insutrace.api.sessions import Session, current_session

__all__ = [
    "FIELD",
    "CsrfDep",
    "CsrfRefused",
    "csrf_token",
    "install_csrf_handler",
    "require_csrf",
    "same_origin",
    "token_matches",
]

FIELD = "csrf_token"


class CsrfRefused(Exception):
    """A form post that is not from this site's own page, or whose session has ended."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def csrf_token(request: Request) -> str:
    """The token this request's forms carry ("" when nobody is signed in)."""
    session = current_session(request)
    return "" if session is None else session.csrf


def same_origin(request: Request) -> bool:
    """The post names this site as its origin (``Origin``, else ``Referer``); a post that
    names neither is taken as same-origin (old browsers, privacy settings)."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return claimed is None
    parts = urlsplit(claimed)
    host = request.headers.get("host", "")
    return parts.netloc.lower() == host.lower()


def token_matches(request: Request, sent: object) -> bool:
    """``sent`` is the signed-in session's token (constant-time compare)."""
    session = current_session(request)
    if session is None or not isinstance(sent, str):
        return False
    return hmac.compare_digest(sent.encode(), session.csrf.encode())


async def require_csrf(request: Request) -> Session:
    """A form post by the signed-in person from this site's own page: their session.

    Raises :class:`CsrfRefused` (403 page) for a cross-site post, no live session, or a
    token that is missing or not this session's."""
    if not same_origin(request):
        raise CsrfRefused("拒绝跨站提交", "refused: the form was posted from another site")
    session = current_session(request)
    if session is None:
        raise CsrfRefused("登录已失效，请重新登录", "your sign-in has ended: sign in again")
    form = await request.form()
    if not token_matches(request, form.get(FIELD)):
        raise CsrfRefused(
            "表单已过期或来源不明，请刷新页面后重试",
            "the form's security token does not match: reload the page and try again",
        )
    return session


CsrfDep = Annotated[Session, Depends(require_csrf)]


def install_csrf_handler(app: FastAPI) -> None:
    """A refused post is a 403 page, Chinese first, with a way back to sign in."""
    from insutrace.api.web import render

    @app.exception_handler(CsrfRefused)
    async def refused(request: Request, exc: CsrfRefused) -> HTMLResponse:
        context = {
            "title_zh": "提交被拒绝",
            "title_en": "Form refused",
            "detail": f"{exc.zh} · {exc.en}",
            "back": "/signin",
            "back_label": "登录 Sign in",
        }
        return render(request, "error.html", context, 403)
