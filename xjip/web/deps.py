"""Request-level helpers used by every route: the store, the logged-in account, roles, language, CSRF."""
from __future__ import annotations

import hmac
import secrets
from typing import Callable
from urllib.parse import urlsplit

from fastapi import Request

from xjip.hub.store import Store
from xjip.settings import Settings
from xjip.web import sessions
from xjip.web.auth import ENTERPRISE, ROLE_RANK, Principal
from xjip.web.errors import ApiError

SESSION_TOKEN = "sid"  # the server-side session's token (xjip.web.sessions)
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh")


def current_user(request: Request) -> Principal | None:
    """The account of this request's session, read from the database on each request: a session
    ended on the server (logout, password change, account disabled) opens nothing, whatever the cookie."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    principal = None
    token = request.session.get(SESSION_TOKEN)
    if token is not None:
        with get_store(request).reading() as s:
            user = sessions.user_of(s, token)
            if user is not None:
                principal = Principal(user.id, user.username, user.role, user.display_name)
        if principal is None:
            request.session.pop(SESSION_TOKEN, None)
    request.session.pop("uid", None)  # the account id older cookies carried: no longer believed
    request.state.principal = principal
    return principal


def client_address(request: Request) -> str:
    """The client's address: the connecting one, or the one a trusted proxy forwarded
    (`trusted_proxies` setting; `X-Forwarded-For` from anyone else is ignored)."""
    return (request.client.host if request.client else None) or "-"


def require(role: str) -> Callable[[Request], Principal]:
    """Dependency: the account must hold `role` (or a higher one); 401 when not logged in, 403 otherwise.
    `require("enterprise")` admits enterprise accounts only (staff work on their behalf elsewhere)."""
    if role not in ROLE_RANK and role != ENTERPRISE:
        raise ValueError(role)

    def dependency(request: Request) -> Principal:
        user = current_user(request)
        if user is None:
            raise ApiError(401)
        if not user.has(role):
            raise ApiError(403, required=role)
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


def sees_personal_data(request: Request) -> bool:
    """Anonymous visitors get masked records; ranked accounts (viewer and up) see them whole. An
    enterprise account sees what the public sees, besides its own reports."""
    user = current_user(request)
    return user is not None and user.has("viewer")


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


async def verify_csrf(request: Request) -> None:
    """Dependency for every state-changing route: the session's token must come back in the form
    field `csrf_token` or the `X-CSRF-Token` header, and a cross-site Origin is refused."""
    expected = request.session.get(SESSION_CSRF)
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    if not expected or not supplied or not hmac.compare_digest(str(expected), supplied) or not _same_origin(request):
        raise ApiError(403, "csrf")


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths are followed after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
