"""Server-side sessions and the login limits, both kept in the database so that every server
process sees the same ones and a restart forgets neither.

Sessions: the signed session cookie carries a random token; the `web_session` row keeps its
SHA-256 (a copy of the table opens nothing). A session ends on the server at logout, when the
account's password, role or active flag changes, when an operator ends it (`xjip user logout`),
and `SESSION_LIFETIME` after login whatever the cookie says (Starlette re-signs the cookie on
every response, so its own age keeps sliding forward).

Login limits: failed logins within `WINDOW` are counted per account (the name normalised as the
login reads it), per client address, and per (account, client); past any limit, logins are
refused with 429 until older failures leave the window. Counting, then checking the password,
then recording is not one atomic step: concurrent guesses can pass a limit by as many as run at
once, which is bounded by the server's workers and threads.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.orm import Session

from xjip.hub import models as m

SESSION_LIFETIME = dt.timedelta(hours=8)
WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Limits:
    """Failed logins allowed within WINDOW (OWASP Authentication Cheat Sheet, "Login Throttling"):
    one client guessing one account; one account from anywhere (guesses spread over many
    addresses); one client over any names (spraying one password over many accounts)."""

    per_account_and_client: int = 5
    per_account: int = 10
    per_client: int = 20


LIMITS = Limits()


def normalise_username(name: str | None) -> str:
    """The account a typed name means, as the login looks it up: NFKC (full-width letters are
    the ASCII ones), surrounding blanks dropped, case folded. Limits count by this, so that
    " relstaff", "relstaff " and "RELSTAFF" are one account."""
    return unicodedata.normalize("NFKC", name or "").strip().casefold()[:100]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _client(client: str | None) -> str:
    return (client or "-")[:64]


# --- sessions ---------------------------------------------------------------------------------

def start(session: Session, user_id: int, client: str | None, user_agent: str | None = None) -> str:
    """A new session for `user_id`; returns the token the cookie carries."""
    now = m.utcnow()
    session.execute(delete(m.WebSession).where(m.WebSession.expires_at < now))  # expired: no longer of use
    token = secrets.token_urlsafe(32)
    session.add(m.WebSession(token_hash=_digest(token), user_id=user_id, created_at=now,
                             expires_at=now + SESSION_LIFETIME, client=_client(client),
                             user_agent=(user_agent or "")[:200] or None))
    session.flush()
    return token


def user_of(session: Session, token: str | None) -> m.User | None:
    """The active account of a live session, None when the token names none (ended, expired,
    unknown, or its account disabled)."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return None
    return session.scalar(select(m.User).join(m.WebSession, m.WebSession.user_id == m.User.id).where(
        m.WebSession.token_hash == _digest(token), m.WebSession.ended_at.is_(None),
        m.WebSession.expires_at > m.utcnow(), m.User.active.is_(True)))


def end(session: Session, token: str | None, why: str = "logout") -> bool:
    """End one session (logout). False when it was not live."""
    if not isinstance(token, str) or not token:
        return False
    return session.execute(update(m.WebSession).where(m.WebSession.token_hash == _digest(token),
                                                      m.WebSession.ended_at.is_(None))
                           .values(ended_at=m.utcnow(), ended_why=why)).rowcount == 1


def end_all(session: Session, user_id: int, why: str) -> int:
    """End every live session of an account; returns how many there were."""
    return session.execute(update(m.WebSession).where(m.WebSession.user_id == user_id,
                                                      m.WebSession.ended_at.is_(None),
                                                      m.WebSession.expires_at > m.utcnow())
                           .values(ended_at=m.utcnow(), ended_why=why)).rowcount or 0


def live_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(m.WebSession).where(
        m.WebSession.user_id == user_id, m.WebSession.ended_at.is_(None),
        m.WebSession.expires_at > m.utcnow())) or 0


# --- login limits -----------------------------------------------------------------------------

def login_blocked(session: Session, account: str, client: str | None, limits: Limits = LIMITS) -> bool:
    """Has this account, this client, or this client on this account failed too often lately?"""
    client = _client(client)
    f = m.LoginFailure
    pair, per_account, per_client = session.execute(select(
        func.coalesce(func.sum(case((and_(f.account == account, f.client == client), 1), else_=0)), 0),
        func.coalesce(func.sum(case((f.account == account, 1), else_=0)), 0),
        func.coalesce(func.sum(case((f.client == client, 1), else_=0)), 0),
    ).where(f.at >= m.utcnow() - WINDOW, (f.account == account) | (f.client == client))).one()
    return (pair >= limits.per_account_and_client or per_account >= limits.per_account
            or per_client >= limits.per_client)


def login_failed(session: Session, account: str, client: str | None) -> None:
    now = m.utcnow()
    session.execute(delete(m.LoginFailure).where(m.LoginFailure.at < now - WINDOW))
    session.add(m.LoginFailure(account=account, client=_client(client), at=now))


def login_succeeded(session: Session, account: str, client: str | None) -> None:
    """This client's failures on this account are forgiven (those from elsewhere still count)."""
    session.execute(delete(m.LoginFailure).where(m.LoginFailure.account == account,
                                                 m.LoginFailure.client == _client(client)))
