"""Accounts: scrypt password hashes, roles, the first admin. Sessions and the login limits: `sessions`.

Roles, from least to most: viewer (logged-in reader: sees records unmasked), staff (+ imports, jobs,
entity merge/split), admin (+ user management). Anonymous visitors see aggregates and masked records.

Beside the ranks, an `enterprise` account (a GI special-mark user, 地理标志专用标志使用人) files its own
annual usage reports (`xjip.gi.enterprise`). It holds no rank: every `require(role)` refuses it, and
it sees the public pages as an anonymous visitor does.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub.store import Store
from xjip.settings import Settings
from xjip.web import sessions
from xjip.web.sessions import normalise_username

log = logging.getLogger(__name__)

ROLES = ("viewer", "staff", "admin")  # ranked: each includes the ones before
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
ENTERPRISE = "enterprise"  # no rank: only its own special-mark users' reports (xjip.gi.enterprise)
KINDS = (*ROLES, ENTERPRISE)  # every value of app_user.role
MIN_PASSWORD = 8
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")

# scrypt cost: N=2^14, r=8, p=1 (RFC 7914 §2 interactive-login parameters), 16 MiB of memory.
_N, _R, _P, _DKLEN = 2 ** 14, 8, 1, 32


class UserError(ValueError):
    """A refused account change; `code` is a catalogue id suffix (`web.error.<code>`)."""

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        super().__init__(code)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=64 << 20)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p),
                                dklen=len(expected), maxmem=64 << 20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so that both failures take as long."""
    return hash_password(secrets.token_urlsafe(12))


def audit(session: Session, tag: str, actor: str | None, **details: Any) -> None:
    """A `source:subject:action` event, e.g. `web:user:login`."""
    session.add(m.AuditEvent(tag=tag, actor=actor, details=details))


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise UserError("password_too_short", min=MIN_PASSWORD)


def create_user(session: Session, username: str, password: str, role: str, *, display_name: str | None = None,
                actor: str | None = None) -> m.User:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise UserError("bad_username")
    if role not in KINDS:
        raise UserError("bad_role", role=role)
    _check_password(password)
    if session.scalar(select(m.User.id).where(func.lower(m.User.username) == username.lower())):
        raise UserError("user_exists", username=username)
    user = m.User(username=username, password_hash=hash_password(password), role=role,
                  display_name=(display_name or "").strip() or None, active=True)
    session.add(user)
    session.flush()
    audit(session, "web:user:create", actor, username=username, role=role)
    return user


def get_user(session: Session, username: str) -> m.User | None:
    # Stored names are ASCII (USERNAME_RE): SQL lower() and Python casefold() agree on them.
    return session.scalar(select(m.User).where(func.lower(m.User.username) == normalise_username(username)))


def authenticate(session: Session, username: str, password: str) -> m.User | None:
    user = get_user(session, username)
    if user is None or not user.active:
        verify_password(password or "", _dummy_hash())
        return None
    return user if verify_password(password or "", user.password_hash) else None


def set_password(session: Session, username: str, password: str, *, actor: str | None = None) -> m.User:
    user = get_user(session, username)
    if user is None:
        raise UserError("no_such_user", username=username)
    _check_password(password)
    user.password_hash = hash_password(password)
    ended = sessions.end_all(session, user.id, "password")  # a copied cookie must not outlive the old password
    audit(session, "web:user:passwd", actor, username=user.username, sessions_ended=ended)
    return user


def update_user(session: Session, user_id: int, *, role: str | None = None, active: bool | None = None,
                actor: str | None = None) -> m.User:
    user = session.get(m.User, user_id) if m.is_row_id(user_id) else None
    if user is None:
        raise UserError("no_such_user", username=str(user_id))
    if role is not None and role not in KINDS:
        raise UserError("bad_role", role=role)
    if role is not None and (role == ENTERPRISE) != (user.role == ENTERPRISE):
        # An enterprise account is no reader of the records, nor a reader an enterprise: a new account instead.
        raise UserError("enterprise_kind", username=user.username)
    losing_admin = user.role == "admin" and ((role is not None and role != "admin") or active is False)
    if losing_admin:
        admins = session.scalar(select(func.count()).select_from(m.User).where(
            m.User.role == "admin", m.User.active.is_(True))) or 0
        if admins <= 1:
            raise UserError("last_admin")
    changes: dict[str, Any] = {}
    if role is not None and role != user.role:
        user.role, changes["role"] = role, role
    if active is not None and active != user.active:
        user.active, changes["active"] = active, active
    if changes:
        # A role or an account taken away ends the account's sessions: it logs in again, or not at all.
        why = "disabled" if changes.get("active") is False else "role" if "role" in changes else "enabled"
        changes["sessions_ended"] = sessions.end_all(session, user.id, why)
        audit(session, "web:user:update", actor, username=user.username, **changes)
    return user


def user_dict(user: m.User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role, "display_name": user.display_name,
            "active": user.active, "created_at": user.created_at}


def list_users(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    return [user_dict(u) for u in session.scalars(select(m.User).order_by(m.User.username).limit(limit))]


def ensure_first_admin(store: Store, settings: Settings) -> str | None:
    """Create `admin` when no account exists. Returns the password only when it was generated here
    (it is also written to <data_dir>/admin_password.txt, mode 600)."""
    with store.session() as s:
        if s.scalar(select(func.count()).select_from(m.User)):
            return None
        generated = not settings.admin_password
        password = settings.admin_password or secrets.token_urlsafe(15)
        create_user(s, "admin", password, "admin", display_name="管理员 / Administrator", actor="system")
    if not generated:
        return None
    path = Path(settings.data_dir) / "admin_password.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    os.chmod(path, 0o600)
    return password


@dataclass
class Principal:
    """The logged-in account as routes see it."""

    id: int
    username: str
    role: str
    display_name: str | None = None

    def has(self, role: str) -> bool:
        """`has("staff")`: staff or admin. `has("enterprise")`: an enterprise account, nothing else;
        an enterprise account has none of the ranks."""
        if role == ENTERPRISE:
            return self.role == ENTERPRISE
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]

    @property
    def is_enterprise(self) -> bool:
        return self.role == ENTERPRISE
