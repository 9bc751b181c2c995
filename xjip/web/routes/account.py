"""Login, logout, the session API, one's own password, and user management (admin)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from xjip.hub import models as m
from xjip.web import auth, sessions
from xjip.web.auth import Principal, UserError
from xjip.web.deps import (
    SESSION_CSRF, SESSION_TOKEN, client_address, csrf_token, current_user, get_store, require, safe_next, verify_csrf,
)
from xjip.web.errors import ApiError

router = APIRouter()
ADMIN = require("admin")


def _any_account(request: Request) -> Principal:
    """Any logged-in account, enterprise accounts too: one's own account page and password."""
    user = current_user(request)
    if user is None:
        raise ApiError(401)
    return user


Admin = Annotated[Principal, Depends(ADMIN)]
ADMIN_POST = [Depends(ADMIN), Depends(verify_csrf)]
FLASH = "flash"


def flash(request: Request, kind: str, msg_id: str, **params: Any) -> None:
    """A one-time message shown on the next page (kind: ok | error)."""
    messages = list(request.session.get(FLASH, []))[-4:]
    messages.append([kind, msg_id, params])
    request.session[FLASH] = messages


def _begin(request: Request, session: Any, principal: Principal) -> None:
    """A new server-side session for `principal`, in a fresh cookie session (no fixation of the one before)."""
    token = sessions.start(session, principal.id, client_address(request), request.headers.get("user-agent"))
    request.session.clear()
    request.session[SESSION_TOKEN] = token
    request.state.principal = principal


def _login(request: Request, username: str, password: str) -> Principal:
    client = client_address(request)
    account = sessions.normalise_username(username)
    store = get_store(request)
    with store.session() as s:
        blocked = sessions.login_blocked(s, account, client)
    if blocked:
        raise ApiError(429, "rate_limited")
    with store.session() as s:
        user = auth.authenticate(s, account, password)
        auth.audit(s, "web:user:login" if user else "web:user:login_failed", account or username[:100], client=client)
        if user is None:
            sessions.login_failed(s, account, client)
            principal = None
        else:
            sessions.login_succeeded(s, account, client)
            principal = Principal(user.id, user.username, user.role, user.display_name)
            _begin(request, s, principal)
    if principal is None:
        raise ApiError(401, "login_failed")
    csrf_token(request)
    return principal


def _logout(request: Request) -> None:
    token = request.session.get(SESSION_TOKEN)
    user = current_user(request)
    if token is not None:
        with get_store(request).session() as s:
            if sessions.end(s, token):
                auth.audit(s, "web:user:logout", user.username if user else None, client=client_address(request))
    request.session.clear()
    request.state.principal = None


def _principal_dict(user: Principal | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "role": user.role, "display_name": user.display_name}


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return request.app.state.render(request, "login.html", {"next": safe_next(next)})


@router.post("/login", include_in_schema=False, dependencies=[Depends(verify_csrf)])
def login_form(request: Request, username: Annotated[str, Form(max_length=100)],
               password: Annotated[str, Form(max_length=200)],
               next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    try:
        principal = _login(request, username, password)
    except ApiError as error:
        if error.status not in (401, 429):
            raise
        return request.app.state.render(request, "login.html", {"next": safe_next(next), "error": error.message_id,
                                                                "username": username}, status=error.status)
    if principal.is_enterprise:
        return RedirectResponse(_enterprise_landing(request, principal, safe_next(next)), status_code=303)
    return RedirectResponse(safe_next(next), status_code=303)


def _enterprise_landing(request: Request, principal: Principal, target: str) -> str:
    """An enterprise lands on its annual reports, told how many wait for it (the reminder on login)."""
    from xjip.gi.enterprise import my_reports

    with get_store(request).reading() as s:
        due = my_reports(s, principal.id)["due"]
    flash(request, "error" if due else "ok", "gi.my.due_on_login" if due else "gi.my.none_due", n=due)
    return "/gi/my" if target == "/" else target


@router.post("/logout", include_in_schema=False, dependencies=[Depends(verify_csrf)])
def logout_form(request: Request) -> RedirectResponse:
    _logout(request)
    return RedirectResponse("/", status_code=303)


class LoginRequest(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)


@router.get("/api/session", tags=["session"], summary="Who is logged in, and the CSRF token for POST requests")
def session_api(request: Request) -> dict[str, Any]:
    return {"user": _principal_dict(current_user(request)), "csrf_token": csrf_token(request)}


@router.post("/api/session", tags=["session"], dependencies=[Depends(verify_csrf)],
             summary="Log in (X-CSRF-Token header from GET /api/session); sets the session cookie")
def login_api(request: Request, body: Annotated[LoginRequest, Body()]) -> dict[str, Any]:
    principal = _login(request, body.username, body.password)
    return {"user": _principal_dict(principal), "csrf_token": request.session[SESSION_CSRF]}


@router.delete("/api/session", tags=["session"], dependencies=[Depends(verify_csrf)], summary="Log out")
def logout_api(request: Request) -> dict[str, Any]:
    _logout(request)
    return {"user": None, "csrf_token": csrf_token(request)}


# --- own account ---------------------------------------------------------------------------

@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(request: Request, user: Annotated[Principal, Depends(_any_account)]) -> HTMLResponse:
    return request.app.state.render(request, "account.html", {})


def _change_own_password(request: Request, user: Principal, current: str, new: str) -> None:
    """Every session of the account ends, this one too (a copy of its cookie may be what is
    feared); the person who changed it goes on in a new session. A wrong current password counts
    as a failed login: a copied cookie is no way round the login limits."""
    account, client = sessions.normalise_username(user.username), client_address(request)
    store = get_store(request)
    with store.session() as s:
        blocked = sessions.login_blocked(s, account, client)
        right = not blocked and auth.authenticate(s, user.username, current) is not None
        if not blocked and not right:
            sessions.login_failed(s, account, client)
    if blocked:
        raise ApiError(429, "rate_limited")
    if not right:
        raise ApiError(400, "wrong_password")
    with store.session() as s:
        try:
            auth.set_password(s, user.username, new, actor=user.username)
        except UserError as exc:
            raise ApiError(400, exc.code, **exc.params) from None
        _begin(request, s, user)
    csrf_token(request)


@router.post("/account/password", include_in_schema=False, dependencies=[Depends(_any_account), Depends(verify_csrf)])
def account_password_form(request: Request, user: Annotated[Principal, Depends(_any_account)],
                          current_password: Annotated[str, Form(max_length=200)],
                          new_password: Annotated[str, Form(max_length=200)]) -> RedirectResponse:
    try:
        _change_own_password(request, user, current_password, new_password)
    except ApiError as error:
        flash(request, "error", error.message_id, **error.params)
        return RedirectResponse("/account", status_code=303)
    flash(request, "ok", "web.account.password_changed")
    return RedirectResponse("/account", status_code=303)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


@router.post("/api/account/password", tags=["session"], dependencies=[Depends(_any_account), Depends(verify_csrf)],
             summary="Change one's own password; every session of the account ends, this one goes on with a new token")
def account_password_api(request: Request, user: Annotated[Principal, Depends(_any_account)],
                         body: Annotated[PasswordChange, Body()]) -> dict[str, Any]:
    _change_own_password(request, user, body.current_password, body.new_password)
    return {"ok": True, "csrf_token": request.session[SESSION_CSRF]}


# --- users (admin) -------------------------------------------------------------------------

def audit_recent(request: Request, limit: int = 50) -> list[dict[str, Any]]:
    with get_store(request).reading() as s:
        rows = s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id.desc()).limit(limit))
        return [{"tag": e.tag, "actor": e.actor, "at": e.at, "details": e.details} for e in rows]


def _users(request: Request) -> dict[str, Any]:
    with get_store(request).reading() as s:
        users = auth.list_users(s)
    return {"users": users, "roles": list(auth.ROLES), "audit": audit_recent(request, 30)}


@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, user: Admin) -> HTMLResponse:
    return request.app.state.render(request, "users.html", {"data": _users(request)})


@router.get("/api/users", tags=["users"], summary="Accounts (admin)")
def users_api(request: Request, user: Admin) -> dict[str, Any]:
    return _users(request)


def _create(request: Request, actor: Principal, username: str, password: str, role: str,
            display_name: str | None) -> dict[str, Any]:
    try:
        with get_store(request).session() as s:
            return auth.user_dict(auth.create_user(s, username, password, role, display_name=display_name,
                                                   actor=actor.username))
    except UserError as exc:
        raise ApiError(400 if exc.code != "user_exists" else 409, exc.code, **exc.params) from None


def _update(request: Request, actor: Principal, user_id: int, role: str | None, active: bool | None,
            password: str | None) -> dict[str, Any]:
    try:
        with get_store(request).session() as s:
            user = auth.update_user(s, user_id, role=role, active=active, actor=actor.username)
            if password:
                auth.set_password(s, user.username, password, actor=actor.username)
            return auth.user_dict(user)
    except UserError as exc:
        status = 404 if exc.code == "no_such_user" else 400
        raise ApiError(status, exc.code, **exc.params) from None


@router.post("/users", include_in_schema=False, dependencies=ADMIN_POST)
def users_create_form(request: Request, user: Admin, username: Annotated[str, Form(max_length=100)],
                      password: Annotated[str, Form(max_length=200)], role: Annotated[str, Form(max_length=20)],
                      display_name: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    try:
        created = _create(request, user, username, password, role, display_name)
        flash(request, "ok", "web.users.created", username=created["username"])
    except ApiError as error:
        flash(request, "error", error.message_id, **error.params)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}", include_in_schema=False, dependencies=ADMIN_POST)
def users_update_form(request: Request, user: Admin, user_id: int,
                      role: Annotated[str, Form(max_length=20)] = "",
                      active: Annotated[str, Form(pattern=r"^(true|false)?$")] = "",
                      password: Annotated[str, Form(max_length=200)] = "") -> RedirectResponse:
    try:
        updated = _update(request, user, user_id, role or None,
                          {"true": True, "false": False}.get(active), password or None)
        flash(request, "ok", "web.users.updated", username=updated["username"])
    except ApiError as error:
        flash(request, "error", error.message_id, **error.params)
    return RedirectResponse("/users", status_code=303)


class UserCreate(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)
    role: str = Field(max_length=20, description="viewer | staff | admin")
    display_name: str | None = Field(default=None, max_length=100)


class UserUpdate(BaseModel):
    role: str | None = Field(default=None, max_length=20)
    active: bool | None = None
    password: str | None = Field(default=None, max_length=200)


@router.post("/api/users", tags=["users"], status_code=201, dependencies=ADMIN_POST, summary="Create an account")
def users_create_api(request: Request, user: Admin, body: Annotated[UserCreate, Body()]) -> dict[str, Any]:
    return _create(request, user, body.username, body.password, body.role, body.display_name)


@router.patch("/api/users/{user_id}", tags=["users"], dependencies=ADMIN_POST,
              summary="Change an account's role, active flag or password")
def users_update_api(request: Request, user: Admin, user_id: int, body: Annotated[UserUpdate, Body()]) -> dict[str, Any]:
    return _update(request, user, user_id, body.role, body.active, body.password)


@router.get("/api/audit", tags=["users"], summary="The latest audit events (admin)")
def audit_api(request: Request, user: Admin, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    return {"events": audit_recent(request, limit)}
