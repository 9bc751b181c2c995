"""Enterprise accounts of special-mark users (地理标志专用标志使用人): the enterprise files its own
annual usage reports (用标年报) online.

How an account comes about (what a GI office does): the user is approved first (the workflow of
`xjip.gi.marks`); then staff, on the approved user's page, either create an account for the
person the enterprise names (a one-time password is shown once, to hand over; the enterprise
changes it on its account page) or link an enterprise account that already exists (a cooperative
using the marks of two GIs keeps one login). Accounts are not made automatically at approval:
the office checks who will report for the enterprise first, and an account nobody collects is a
risk. Unlinking (or disabling the account) ends its access to that user's reports.

An enterprise account sees only the reports and forms of the users it is linked to, and the
public pages; every look-up here goes through `owned_application` / `owned_report`, which answer
"not found" for anybody else's.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from xjip.gi import GIError
from xjip.gi import marks
from xjip.hub import models as m

ENTERPRISE = "enterprise"  # app_user.role of an enterprise account (xjip.web.auth.ENTERPRISE)
MAX_YEARS = 10  # years shown on "my annual reports", most recent first


def _audit(session: Session, action: str, actor: str, **details: Any) -> None:
    session.add(m.AuditEvent(tag=f"gi:enterprise:{action}", actor=actor, details=details))


def _approved_user(session: Session, app_id: int) -> tuple[m.GIMarkApplication, m.GIMarkUser]:
    app = session.get(m.GIMarkApplication, app_id) if m.is_row_id(app_id) else None
    if app is None:
        raise GIError("not_found", "application_id", value=app_id)
    user = session.get(m.GIMarkUser, app.mark_user_id) if app.mark_user_id else None
    if app.status != "approved" or user is None:
        raise GIError("not_a_user", "application_id", applicant=app.applicant_name)
    return app, user


def _link(session: Session, account: m.User, mark_user: m.GIMarkUser, actor: str, app_id: int) -> None:
    exists = session.scalar(select(m.GIEnterpriseLink.id).where(m.GIEnterpriseLink.user_id == account.id,
                                                                 m.GIEnterpriseLink.mark_user_id == mark_user.id))
    if exists:
        raise GIError("already_linked", "username", username=account.username)
    session.add(m.GIEnterpriseLink(user_id=account.id, mark_user_id=mark_user.id, created_by=actor))
    session.flush()
    _audit(session, "link", actor, username=account.username, mark_user_id=mark_user.id, application_id=app_id,
           user_name=mark_user.user_name)


def approved_user(session: Session, app_id: int) -> m.GIMarkUser:
    """The special-mark user of an approved application (accounts are made or linked only then)."""
    return _approved_user(session, app_id)[1]


def link_account(session: Session, app_id: int, account: m.User | None, actor: str,
                 username: str | None = None) -> dict[str, Any]:
    """Link an enterprise account (a new one, made by `xjip.web.auth.create_user` with role
    enterprise, or one that exists) to an approved user. A staff or viewer account is refused."""
    _, mark_user = _approved_user(session, app_id)
    if account is None:
        raise GIError("no_such_account", "username", username=(username or "")[:64])
    if account.role != ENTERPRISE:
        raise GIError("not_enterprise_account", "username", username=account.username)
    _link(session, account, mark_user, actor, app_id)
    return {"user_id": account.id, "username": account.username, "display_name": account.display_name,
            "mark_user_id": mark_user.id}


def unlink_account(session: Session, app_id: int, user_id: int, actor: str) -> dict[str, Any]:
    app = session.get(m.GIMarkApplication, app_id) if m.is_row_id(app_id) else None
    if app is None or not app.mark_user_id:
        raise GIError("not_found", "application_id", value=app_id)
    account = session.get(m.User, user_id) if m.is_row_id(user_id) else None
    removed = session.execute(delete(m.GIEnterpriseLink).where(
        m.GIEnterpriseLink.user_id == user_id, m.GIEnterpriseLink.mark_user_id == app.mark_user_id)).rowcount
    if not removed or account is None:
        raise GIError("not_found", "user_id", value=user_id)
    _audit(session, "unlink", actor, username=account.username, mark_user_id=app.mark_user_id, application_id=app.id)
    session.flush()
    return {"user_id": account.id, "username": account.username, "mark_user_id": app.mark_user_id}


def accounts_of(session: Session, mark_user_id: int | None) -> list[dict[str, Any]]:
    """The enterprise accounts linked to a special-mark user (for the staff page)."""
    if not mark_user_id:
        return []
    rows = session.execute(select(m.User, m.GIEnterpriseLink).join(
        m.GIEnterpriseLink, m.GIEnterpriseLink.user_id == m.User.id).where(
        m.GIEnterpriseLink.mark_user_id == mark_user_id).order_by(m.User.username).limit(100))
    return [{"user_id": u.id, "username": u.username, "display_name": u.display_name, "active": u.active,
             "linked_at": link.created_at, "linked_by": link.created_by} for u, link in rows]


# --- the enterprise's own side ------------------------------------------------------------

def _mark_user_ids(session: Session, user_id: int) -> list[int]:
    return list(session.execute(select(m.GIEnterpriseLink.mark_user_id).where(
        m.GIEnterpriseLink.user_id == user_id).limit(500)).scalars())


def owned_application(session: Session, user_id: int, app_id: Any) -> m.GIMarkApplication:
    """The application of one of this account's users; anybody else's is "not found" (the
    answer does not tell whether it exists)."""
    app = session.get(m.GIMarkApplication, app_id) if isinstance(app_id, int) and m.is_row_id(app_id) else None
    if (app is None or app.status not in ("approved", "revoked") or not app.mark_user_id
            or app.mark_user_id not in _mark_user_ids(session, user_id)):
        raise GIError("not_found", "application_id", value=app_id)
    return app


def _state(report: m.GIUsageReport | None, year: int, today: dt.date) -> str:
    if report is not None:
        return report.status or "submitted"
    return "open" if year >= today.year else ("overdue" if today > marks.due_date(year) else "due")


def my_reports(session: Session, user_id: int, today: dt.date | None = None) -> dict[str, Any]:
    """For each of this account's users: the years it reports for, newest first, each with its
    due date and state — open (the year is not over: may be filed early), due, overdue, submitted,
    returned (with staff's reason), accepted; `due` counts the years waiting for the enterprise."""
    today = today or m.utcnow().date()
    ids = _mark_user_ids(session, user_id)
    apps = session.execute(select(m.GIMarkApplication).where(
        m.GIMarkApplication.mark_user_id.in_(ids), m.GIMarkApplication.status.in_(("approved", "revoked")))
        .order_by(m.GIMarkApplication.id).limit(200)).scalars().all() if ids else []
    users, due = [], 0
    for app in apps:
        span = marks.report_years(app)
        if span is None:
            continue
        gi = session.get(m.GeographicalIndication, app.gi_id)
        reports = {r.year: r for r in session.execute(select(m.GIUsageReport).where(
            m.GIUsageReport.application_id == app.id)).scalars()}
        years = []
        for year in range(span[1], max(span[0], span[1] - MAX_YEARS + 1) - 1, -1):
            report = reports.get(year)
            state = _state(report, year, today)
            due += state in ("due", "overdue", "returned")
            reminded = [h for h in (app.history or []) if h.get("action") == "reminded" and h.get("year") == year]
            years.append({"year": year, "due": marks.due_date(year), "state": state,
                          "report": marks.report_dict(report) if report else None,
                          "reminders": len(reminded) if state in ("due", "overdue", "returned") else 0})
        users.append({"application_id": app.id, "applicant_name": app.applicant_name, "gi_id": app.gi_id,
                      "gi_name": gi.name if gi else None, "status": app.status, "years": years})
    return {"users": users, "due": due}


def my_report(session: Session, user_id: int, app_id: Any, year: Any) -> dict[str, Any]:
    """One year of one of this account's users: the report filed (or None) and whether it may
    still be changed."""
    app = owned_application(session, user_id, app_id)
    span = marks.report_years(app)
    if not isinstance(year, int) or span is None or not span[0] <= year <= span[1]:
        raise GIError("bad_year", "year", value=year)
    report = session.scalar(select(m.GIUsageReport).where(m.GIUsageReport.application_id == app.id,
                                                          m.GIUsageReport.year == year))
    gi = session.get(m.GeographicalIndication, app.gi_id)
    today = m.utcnow().date()
    return {"application_id": app.id, "applicant_name": app.applicant_name, "gi_name": gi.name if gi else None,
            "year": year, "due": marks.due_date(year), "state": _state(report, year, today),
            "report": marks.report_dict(report) if report else None,
            "editable": report is None or report.status != "accepted"}


def save_my_report(session: Session, user_id: int, username: str, app_id: Any, year: Any,
                   values: dict[str, Any]) -> dict[str, Any]:
    """File the year's report, or correct it until staff accept it (same checks as staff's)."""
    current = my_report(session, user_id, app_id, year)
    if current["report"] is None:
        return marks.submit_report(session, current["application_id"], year, values, username)
    return marks.update_report(session, current["report"]["id"], values, username)
