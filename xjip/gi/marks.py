"""Special-mark users (地理标志专用标志使用人): application → review → approval → revocation with
reasons and documents; annual usage reports (用标年报) with validation; the not-reported list and
reminders; the province-level annual report as XLSX.

Rules applied, from ``legal/gi_rules_facts.md`` (our summary, not the legal text):
- Who may use the mark: announcement 354's four kinds of legitimate user (`USER_TYPES`).
- Approval by announcement (354; Decree 80 procedure for producers: not found) — the announcement
  number is asked for at approval and may be left empty while it is not yet published.
- Users report their use "periodically" to the local IP office (354). No fixed annual deadline or
  form was found: the report's year and its due date are settings (`ReportSettings`).
- The province files the annual supervision report (国知办函保字〔2023〕1072号) with these
  contents; the template's field list was not found, so the workbook has one sheet per listed
  content, with our column names.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xjip.gi import GIError
from xjip.hub import models as m

# Announcement 354, "legitimate users" (1)-(4) [S16, S18 of gi_rules_facts.md].
USER_TYPES = ("gi_product_producer", "collective_member", "certification_licensee", "other_registered")
STATUSES = ("submitted", "reviewed", "approved", "rejected", "revoked")
MAX_DOCUMENTS = 20


@dataclass(frozen=True)
class ReportSettings:
    """Bounds of a usage report. No official figure exists: these are ours, to refuse typing
    slips (an extra 000) rather than to judge a business. Staff change them here."""

    max_output_tonnes: float = 500_000.0  # one enterprise's yearly output of one GI product
    max_sales_wan_yuan: float = 1_000_000.0  # 100亿元
    max_marks_used: int = 500_000_000
    max_quality_checks: int = 100_000
    max_price_yuan_per_kg: float = 100_000.0
    due_month: int = 3  # reports for year Y are due by the end of March of Y+1 (our setting)
    require_inside_area: bool = True  # a producer must be in the protected area (Decree 80 Art 2)


SETTINGS = ReportSettings()

# GB 32100-2015 统一社会信用代码: 18 characters; the 18th is a check character over the first 17
# (weights 3^(i) mod 31, alphabet without I, O, Z, S, V).
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def valid_credit_code(code: str) -> bool:
    code = code.strip().upper()
    if not re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{18}", code):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31] == code[17]


_STORED = re.compile(r"^[0-9a-f]{16}/[^/\\]{1,200}$")  # <folder token>/<sanitised name> under data_dir/gi_documents


def _documents(docs: Any) -> list[dict[str, str]]:
    out = []
    for d in docs or []:
        name = (d.get("name") if isinstance(d, dict) else str(d) or "").strip()
        if not name:
            continue
        if len(name) > 200:
            raise GIError("too_long", "documents", limit=200)
        doc = {"name": name, "note": (str(d.get("note") or "") if isinstance(d, dict) else "").strip()[:500]}
        stored = d.get("file") if isinstance(d, dict) else None
        if stored:
            if not _STORED.match(str(stored)):
                raise GIError("bad_value", "documents", value=str(stored)[:40])
            doc["file"], doc["bytes"] = str(stored), int(d.get("bytes") or 0)
        out.append(doc)
    if len(out) > MAX_DOCUMENTS:
        raise GIError("too_many_documents", "documents", limit=MAX_DOCUMENTS)
    return out


def _event(app: m.GIMarkApplication, actor: str, action: str, reason: str | None = None, **more: Any) -> dict[str, Any]:
    entry = {"at": m.utcnow().isoformat(timespec="seconds"), "by": actor, "action": action, "reason": reason, **more}
    app.history = [*(app.history or []), entry]
    return entry


def _get(session: Session, app_id: int) -> m.GIMarkApplication:
    app = session.get(m.GIMarkApplication, app_id) if m.is_row_id(app_id) else None
    if app is None:
        raise GIError("not_found", "application_id", value=app_id)
    return app


def _audit(session: Session, action: str, actor: str, app: m.GIMarkApplication, **details: Any) -> None:
    session.add(m.AuditEvent(tag=f"gi:mark:{action}", actor=actor,
                             details={"application_id": app.id, "gi_id": app.gi_id, "applicant": app.applicant_name,
                                      **details}))


def submit(session: Session, gi_id: int, applicant_name: str, credit_code: str | None, address: str | None,
           user_type: str, documents: Any, actor: str, is_synthetic: bool = False) -> dict[str, Any]:
    gi = session.get(m.GeographicalIndication, gi_id) if m.is_row_id(gi_id) else None
    if gi is None:
        raise GIError("not_found", "gi_id", value=gi_id)
    name = (applicant_name or "").strip()
    if not name:
        raise GIError("missing_field", "applicant_name")
    if len(name) > 300:
        raise GIError("too_long", "applicant_name", limit=300)
    code = (credit_code or "").strip().upper() or None
    if code and not valid_credit_code(code):
        raise GIError("bad_credit_code", "credit_code", value=code[:40])
    if user_type not in USER_TYPES:
        raise GIError("bad_value", "user_type", value=str(user_type)[:40])
    docs = _documents(documents)
    if not docs:
        raise GIError("documents_required", "documents")
    address = (address or "").strip()[:1000] or None
    place = None
    if address:
        from xjip.hub.gazetteer import Gazetteer

        place = Gazetteer.from_session(session).resolve(address)
    app = m.GIMarkApplication(gi_id=gi.id, applicant_name=name, credit_code=code, address=address, user_type=user_type,
                              status="submitted", documents=docs, history=[], is_synthetic=is_synthetic,
                              region_code=place.region_code[:12] if place and place.region_code else None,
                              prefecture_code=place.prefecture_code if place else None,
                              county_code=place.county_code if place else None)
    session.add(app)
    session.flush()
    _event(app, actor, "submitted", None, documents=[d["name"] for d in docs])
    _audit(session, "submitted", actor, app)
    session.flush()
    return application_dict(session, app)


def area_check(session: Session, app: m.GIMarkApplication) -> str:
    """inside | outside | unknown: the applicant's place against the GI's protected area."""
    codes = set(session.execute(select(m.GIArea.region_code).where(m.GIArea.gi_id == app.gi_id)).scalars())
    if codes and app.region_code and not app.region_code.startswith("65"):
        return "outside"  # another province
    if not codes or not app.prefecture_code:
        return "unknown"
    if app.county_code and app.county_code in codes:
        return "inside"
    if app.prefecture_code in codes:
        listed = [c for c in codes if not c.endswith("00") and c[:4] == (app.county_code or "")[:4]]
        return "inside" if not listed or not app.county_code else "outside"
    return "outside"


def review(session: Session, app_id: int, passed: bool, actor: str, reason: str | None) -> dict[str, Any]:
    app = _get(session, app_id)
    if app.status != "submitted":
        raise GIError("bad_transition", "status", before=app.status, after="reviewed" if passed else "rejected")
    reason = (reason or "").strip()[:2000] or None
    if not passed and not reason:
        raise GIError("reason_required", "reason")
    app.status = "reviewed" if passed else "rejected"
    if not passed:
        app.decided_at = m.utcnow()
    _event(app, actor, app.status, reason, area=area_check(session, app))
    _audit(session, app.status, actor, app, reason=reason)
    session.flush()
    return application_dict(session, app)


def approve(session: Session, app_id: int, actor: str, announcement_no: str | None, reason: str | None = None,
            settings: ReportSettings = SETTINGS) -> dict[str, Any]:
    app = _get(session, app_id)
    if app.status == "approved":
        raise GIError("already_approved", "status", applicant=app.applicant_name)
    if app.status != "reviewed":
        raise GIError("bad_transition", "status", before=app.status, after="approved")
    gi = session.get(m.GeographicalIndication, app.gi_id)
    same = select(m.GIMarkApplication.id).where(
        m.GIMarkApplication.gi_id == app.gi_id, m.GIMarkApplication.status == "approved", m.GIMarkApplication.id != app.id,
        (m.GIMarkApplication.credit_code == app.credit_code) if app.credit_code
        else (m.GIMarkApplication.applicant_name == app.applicant_name))
    other = session.execute(same).scalar()
    if other:
        raise GIError("already_user", "credit_code", applicant=app.applicant_name, other=other)
    if settings.require_inside_area and app.user_type == "gi_product_producer" and area_check(session, app) == "outside":
        raise GIError("outside_area", "address", applicant=app.applicant_name)
    announcement = (announcement_no or "").strip()[:100] or None
    key = f"{gi.name}|{gi.gi_system}|{app.credit_code or app.applicant_name}"
    user = session.execute(select(m.GIMarkUser).where(m.GIMarkUser.key == key)).scalar()
    today = m.utcnow().date()
    if user is None:
        user = m.GIMarkUser(key=key[:300], gi_id=gi.id, gi_name=gi.name, user_name=app.applicant_name,
                            address=app.address, credit_code=app.credit_code, source="xjip.gi.marks",
                            source_format="workflow", is_synthetic=app.is_synthetic, region_code=app.region_code,
                            prefecture_code=app.prefecture_code, county_code=app.county_code)
        session.add(user)
    user.approved_date, user.revoked_date, user.announcement_no = today, None, announcement
    session.flush()
    app.status, app.mark_user_id, app.decided_at = "approved", user.id, m.utcnow()
    _event(app, actor, "approved", (reason or "").strip()[:2000] or None, announcement_no=announcement)
    _audit(session, "approved", actor, app, announcement_no=announcement, mark_user_id=user.id)
    session.flush()
    return application_dict(session, app)


def revoke(session: Session, app_id: int, actor: str, reason: str | None, documents: Any = None) -> dict[str, Any]:
    app = _get(session, app_id)
    if app.status != "approved":
        raise GIError("bad_transition", "status", before=app.status, after="revoked")
    reason = (reason or "").strip()[:2000] or None
    if not reason:
        raise GIError("reason_required", "reason")
    docs = _documents(documents)
    app.status, app.decided_at = "revoked", m.utcnow()
    if app.mark_user_id:
        user = session.get(m.GIMarkUser, app.mark_user_id)
        if user is not None:
            user.revoked_date = m.utcnow().date()
    app.documents = [*(app.documents or []), *docs]
    _event(app, actor, "revoked", reason, documents=[d["name"] for d in docs])
    _audit(session, "revoked", actor, app, reason=reason)
    session.flush()
    return application_dict(session, app)


def enrol(session: Session, mark_user_id: int, user_type: str, actor: str) -> dict[str, Any]:
    """Bring a user approved before the platform (a `gi_mark_user` row from the register or an
    import, with no application here) into online reporting: an application recorded as approved
    at its approval date, marked `enrolled` in its history. Then accounts and reports work as for
    any approved user. A user already on the platform answers `already_enrolled`."""
    user = session.get(m.GIMarkUser, mark_user_id) if m.is_row_id(mark_user_id) else None
    if user is None or not user.gi_id:
        raise GIError("not_found", "mark_user_id", value=mark_user_id)
    existing = session.scalar(select(m.GIMarkApplication.id).where(m.GIMarkApplication.mark_user_id == user.id))
    if existing:
        raise GIError("already_enrolled", "mark_user_id", applicant=user.user_name, other=existing)
    if user.revoked_date is not None:
        raise GIError("not_a_user", "mark_user_id", applicant=user.user_name)
    if user_type not in USER_TYPES:
        raise GIError("bad_value", "user_type", value=str(user_type)[:40])
    approved = dt.datetime.combine(user.approved_date, dt.time()) if user.approved_date else m.utcnow()
    app = m.GIMarkApplication(gi_id=user.gi_id, applicant_name=user.user_name[:300], credit_code=user.credit_code,
                              address=user.address, user_type=user_type, status="approved", documents=[], history=[],
                              mark_user_id=user.id, submitted_at=approved, decided_at=approved,
                              is_synthetic=bool(user.is_synthetic), region_code=user.region_code,
                              prefecture_code=user.prefecture_code, county_code=user.county_code)
    session.add(app)
    session.flush()
    _event(app, actor, "enrolled", None, approved_date=user.approved_date.isoformat() if user.approved_date else None,
           announcement_no=user.announcement_no, source=user.source)
    _audit(session, "enrolled", actor, app, mark_user_id=user.id)
    session.flush()
    return application_dict(session, app)


def application_dict(session: Session, app: m.GIMarkApplication) -> dict[str, Any]:
    gi = session.get(m.GeographicalIndication, app.gi_id)
    reports = session.execute(select(m.GIUsageReport).where(m.GIUsageReport.application_id == app.id)
                              .order_by(m.GIUsageReport.year)).scalars()
    return {"id": app.id, "gi_id": app.gi_id, "gi_name": gi.name if gi else None, "gi_system": gi.gi_system if gi else None,
            "applicant_name": app.applicant_name, "credit_code": app.credit_code, "address": app.address,
            "prefecture_code": app.prefecture_code, "county_code": app.county_code, "user_type": app.user_type,
            "status": app.status, "documents": app.documents or [], "history": app.history or [],
            "mark_user_id": app.mark_user_id, "submitted_at": app.submitted_at, "decided_at": app.decided_at,
            "area_check": area_check(session, app), "is_synthetic": app.is_synthetic,
            "reports": [report_dict(r) for r in reports]}


def list_applications(session: Session, status: str | None = None, gi_id: int | None = None) -> list[dict[str, Any]]:
    stmt = select(m.GIMarkApplication).order_by(m.GIMarkApplication.id.desc()).limit(1000)
    if status:
        stmt = stmt.where(m.GIMarkApplication.status == status)
    if gi_id:
        stmt = stmt.where(m.GIMarkApplication.gi_id == gi_id)
    return [application_dict(session, a) for a in session.execute(stmt).scalars()]


# --- annual usage reports -----------------------------------------------------------------

REPORT_FIELDS = ("output_tonnes", "sales_wan_yuan", "marks_used", "quality_checks", "quality_failed",
                 "price_yuan_per_kg")
INTEGER_FIELDS = {"marks_used", "quality_checks", "quality_failed"}
REQUIRED_FIELDS = ("output_tonnes", "sales_wan_yuan", "marks_used", "quality_checks")


def _number(name: str, raw: Any, limit: float) -> float | int | None:
    if raw is None or str(raw).strip() == "":
        if name in REQUIRED_FIELDS:
            raise GIError("missing_field", name)
        return None
    text = str(raw).strip().replace(",", "")
    try:
        value = int(text) if name in INTEGER_FIELDS else float(text)
    except ValueError:
        raise GIError("not_a_number" if name not in INTEGER_FIELDS else "not_an_integer", name, value=text[:40]) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise GIError("not_a_number", name, value=text[:40])
    if value < 0:
        raise GIError("negative", name, value=text[:40])
    if value > limit:
        raise GIError("absurd", name, value=text[:40], limit=f"{limit:,.0f}")
    return value


REPORT_STATUSES = ("submitted", "accepted", "returned")


def clean_report(values: dict[str, Any], settings: ReportSettings = SETTINGS) -> dict[str, Any]:
    """Every figure checked (negative, not a number, above the bound, more failed checks than
    checks, marks without output); the first refused one raises, naming its field."""
    limits = {"output_tonnes": settings.max_output_tonnes, "sales_wan_yuan": settings.max_sales_wan_yuan,
              "marks_used": settings.max_marks_used, "quality_checks": settings.max_quality_checks,
              "quality_failed": settings.max_quality_checks, "price_yuan_per_kg": settings.max_price_yuan_per_kg}
    clean = {name: _number(name, values.get(name), limits[name]) for name in REPORT_FIELDS}
    clean["quality_failed"] = clean["quality_failed"] or 0
    if clean["quality_failed"] > clean["quality_checks"]:
        raise GIError("failed_above_checks", "quality_failed", failed=clean["quality_failed"],
                      checks=clean["quality_checks"])
    if clean["output_tonnes"] == 0 and clean["marks_used"] > 0:
        raise GIError("marks_without_output", "marks_used")
    return clean


def report_years(app: m.GIMarkApplication) -> tuple[int, int] | None:
    """The first and last year a user may report: from the year of approval to this year (or the
    year of revocation). None when the application is not (or no longer) a user's."""
    if app.status not in ("approved", "revoked"):
        return None
    first = (app.decided_at or app.submitted_at).year if app.status == "approved" else None
    if app.status == "revoked":
        approved = [h for h in (app.history or []) if h.get("action") in ("approved", "enrolled")]
        first = int(approved[0]["at"][:4]) if approved else app.submitted_at.year
    last = m.utcnow().year if app.status == "approved" else (app.decided_at or m.utcnow()).year
    return first or 2000, max(last, first or 2000)


def _year(app: m.GIMarkApplication, year: Any) -> int:
    try:
        value = int(str(year).strip())
    except ValueError:
        raise GIError("bad_year", "year", value=str(year)[:10]) from None
    first = (app.decided_at or app.submitted_at).year if app.status in ("approved", "revoked") else None
    if not (first or 2000) <= value <= m.utcnow().year:
        raise GIError("bad_year", "year", value=value)
    return value


def submit_report(session: Session, app_id: int, year: Any, values: dict[str, Any], actor: str,
                  settings: ReportSettings = SETTINGS) -> dict[str, Any]:
    """Validate every figure first (`clean_report`); refuse a second report for the same year;
    nothing is written when one is refused. The report waits for staff to accept or return it."""
    app = _get(session, app_id)
    if app.status not in ("approved", "revoked"):
        raise GIError("not_a_user", "application_id", applicant=app.applicant_name)
    year = _year(app, year)
    clean = clean_report(values, settings)
    if session.execute(select(m.GIUsageReport.id).where(m.GIUsageReport.application_id == app.id,
                                                        m.GIUsageReport.year == year)).scalar():
        raise GIError("already_reported", "year", value=year)
    report = m.GIUsageReport(application_id=app.id, year=year, submitted_by=actor, status="submitted",
                             note=(str(values.get("note") or "").strip()[:2000] or None), **clean)
    session.add(report)
    _audit(session, "report", actor, app, year=year)
    session.flush()
    return report_dict(report)


def _report(session: Session, report_id: int) -> m.GIUsageReport:
    report = session.get(m.GIUsageReport, report_id) if m.is_row_id(report_id) else None
    if report is None:
        raise GIError("not_found", "report_id", value=report_id)
    return report


def update_report(session: Session, report_id: int, values: dict[str, Any], actor: str,
                  settings: ReportSettings = SETTINGS) -> dict[str, Any]:
    """Correct a report until staff accept it; a returned report goes back to staff as submitted.
    The figures before the change are kept in the audit event."""
    report = _report(session, report_id)
    if report.status == "accepted":
        raise GIError("report_accepted", "year", value=report.year)
    clean = clean_report(values, settings)
    note = str(values.get("note") or "").strip()[:2000] or None
    before = {name: getattr(report, name) for name in (*REPORT_FIELDS, "note")}
    for name, value in clean.items():
        setattr(report, name, value)
    report.note = note
    was = report.status
    report.status, report.updated_at, report.updated_by = "submitted", m.utcnow(), actor
    app = session.get(m.GIMarkApplication, report.application_id)
    _audit(session, "report_update", actor, app, year=report.year, report_id=report.id, status_before=was,
           before=before)
    session.flush()
    return report_dict(report)


def decide_report(session: Session, report_id: int, accept: bool, actor: str, reason: str | None) -> dict[str, Any]:
    """Staff accept a submitted report (it is then locked) or return it with a reason (the user
    corrects it and it comes back as submitted)."""
    report = _report(session, report_id)
    after = "accepted" if accept else "returned"
    if report.status != "submitted":
        raise GIError("bad_transition", "status", before=report.status, after=after)
    reason = (reason or "").strip()[:2000] or None
    if not accept and not reason:
        raise GIError("reason_required", "reason")
    report.status, report.reviewed_at, report.reviewed_by, report.review_reason = after, m.utcnow(), actor, reason
    app = session.get(m.GIMarkApplication, report.application_id)
    _event(app, actor, f"report_{after}", reason, year=report.year)
    _audit(session, f"report_{after}", actor, app, year=report.year, report_id=report.id, reason=reason)
    session.flush()
    return report_dict(report)


def report_dict(r: m.GIUsageReport) -> dict[str, Any]:
    return {"id": r.id, "application_id": r.application_id, "year": r.year, "output_tonnes": r.output_tonnes,
            "sales_wan_yuan": r.sales_wan_yuan, "marks_used": r.marks_used, "quality_checks": r.quality_checks,
            "quality_failed": r.quality_failed, "price_yuan_per_kg": r.price_yuan_per_kg, "note": r.note,
            "submitted_at": r.submitted_at, "submitted_by": r.submitted_by, "status": r.status or "submitted",
            "updated_at": r.updated_at, "updated_by": r.updated_by, "reviewed_at": r.reviewed_at,
            "reviewed_by": r.reviewed_by, "review_reason": r.review_reason}


def due_date(year: int, settings: ReportSettings = SETTINGS) -> dt.date:
    """The last day of `due_month` of the year after `year` (our setting, see ReportSettings)."""
    month_after = dt.date(year + 1, settings.due_month, 1) + dt.timedelta(days=31)
    return month_after.replace(day=1) - dt.timedelta(days=1)


def not_reported(session: Session, year: int, settings: ReportSettings = SETTINGS) -> dict[str, Any]:
    """Users approved by the end of `year` and not revoked before it, with no report for it (a
    returned report counts as not reported until it is corrected); `filed` lists the year's
    reports with who filed them and their state (submitted, accepted, returned)."""
    end = dt.datetime(year, 12, 31, 23, 59, 59)
    start = dt.datetime(year, 1, 1)
    apps = session.execute(select(m.GIMarkApplication).where(m.GIMarkApplication.status.in_(("approved", "revoked")),
                                                             m.GIMarkApplication.decided_at <= end)).scalars().all()
    reports = {r.application_id: r for r in session.execute(
        select(m.GIUsageReport).where(m.GIUsageReport.year == year)).scalars()}
    reported = {app_id for app_id, r in reports.items() if r.status != "returned"}
    missing, names = [], {}
    for app in apps:
        if app.status == "revoked" and app.decided_at and app.decided_at < start:
            continue
        gi = session.get(m.GeographicalIndication, app.gi_id)
        names[app.id] = (app.applicant_name, gi.name)
        if app.id not in reported:
            reminders = [h for h in (app.history or []) if h.get("action") == "reminded" and h.get("year") == year]
            missing.append({"application_id": app.id, "applicant_name": app.applicant_name, "gi_name": gi.name,
                            "prefecture_code": app.prefecture_code, "reminders": len(reminders),
                            "last_reminded": reminders[-1]["at"] if reminders else None,
                            "returned": app.id in reports})
    filed = []
    for app_id, r in sorted(reports.items(), key=lambda item: item[1].submitted_at):
        if app_id not in names:
            app = session.get(m.GIMarkApplication, app_id)
            gi = session.get(m.GeographicalIndication, app.gi_id) if app else None
            names[app_id] = (app.applicant_name if app else None, gi.name if gi else None)
        filed.append({**report_dict(r), "applicant_name": names[app_id][0], "gi_name": names[app_id][1]})
    return {"year": year, "due": due_date(year, settings), "users": len(apps),
            "reported": len(reported & {a.id for a in apps}), "missing": missing, "filed": filed}


def send_reminders(session: Session, year: int, actor: str) -> dict[str, Any]:
    """Record a reminder for every user who has not reported `year`: it shows on the user's
    application and the not-reported list. (The platform sends no e-mail or SMS: none is set up.)"""
    data = not_reported(session, year)
    for row in data["missing"]:
        app = session.get(m.GIMarkApplication, row["application_id"])
        _event(app, actor, "reminded", None, year=year, due=data["due"].isoformat())
        _audit(session, "reminded", actor, app, year=year)
    session.flush()
    return {"year": year, "reminded": len(data["missing"]), "due": data["due"]}


# --- province-level annual report ---------------------------------------------------------

SHEETS = {
    # 国知办函保字〔2023〕1072号 contents (gi_rules_facts.md §4); column names are ours.
    "gi_products": ("基础数据-地理标志产品", ("名称", "保护类型", "类别", "批准公告号", "批准日期", "申请人/管理机构", "保护范围", "状态",
                                           "合法用标企业数", "来源可信度")),
    "gi_marks": ("基础数据-地理标志商标", ("名称", "商标类型", "注册号", "注册人", "保护范围", "状态", "合法用标企业数")),
    "mark_use": ("专用标志使用管理", ("地理标志名称", "使用人", "统一社会信用代码", "使用人类型", "所在地州市代码", "状态",
                                      "核准公告号", "本年度已报年报", "产量(吨)", "销售额(万元)", "用标数量(枚)", "质量抽检(次)",
                                      "抽检不合格(次)")),
    "output": ("年度产值", ("地理标志名称", "报告企业数", "产量合计(吨)", "销售额合计(万元)", "用标数量合计(枚)")),
    "notes": ("说明", ("项目", "内容")),
}


def annual_report_rows(session: Session, year: int) -> dict[str, list[list[Any]]]:
    if not 2000 <= year <= m.utcnow().year:
        raise GIError("bad_year", "year", value=year)
    gis = session.execute(select(m.GeographicalIndication).order_by(m.GeographicalIndication.name)).scalars().all()
    users_by_gi: dict[int, int] = {}
    for gi_id, revoked in session.execute(select(m.GIMarkUser.gi_id, m.GIMarkUser.revoked_date)):
        if gi_id and (revoked is None or revoked.year > year):
            users_by_gi[gi_id] = users_by_gi.get(gi_id, 0) + 1
    from xjip.gi.names import category_zh

    products, marks = [], []
    for gi in gis:
        approved = gi.approval_date.isoformat() if gi.approval_date else gi.approval_date_text
        if gi.gi_system in ("GI_certification_TM", "GI_TM_unspecified"):
            marks.append([gi.name, gi.gi_system, gi.registration_no, gi.applicant, gi.protected_area_text, gi.status,
                          users_by_gi.get(gi.id, 0)])
        else:
            products.append([gi.name, gi.gi_system, category_zh(gi.category), gi.announcement_no, approved, gi.applicant,
                             gi.protected_area_text, gi.status, users_by_gi.get(gi.id, 0), gi.confidence])
    use, output = [], {}
    for app in session.execute(select(m.GIMarkApplication).where(m.GIMarkApplication.status.in_(("approved", "revoked")))
                               .order_by(m.GIMarkApplication.id)).scalars():
        gi = session.get(m.GeographicalIndication, app.gi_id)
        rep = session.execute(select(m.GIUsageReport).where(m.GIUsageReport.application_id == app.id,
                                                            m.GIUsageReport.year == year,
                                                            m.GIUsageReport.status != "returned")).scalar()
        user = session.get(m.GIMarkUser, app.mark_user_id) if app.mark_user_id else None
        use.append([gi.name, app.applicant_name, app.credit_code, app.user_type, app.prefecture_code, app.status,
                    user.announcement_no if user else None, "是" if rep else "否",
                    rep.output_tonnes if rep else None, rep.sales_wan_yuan if rep else None,
                    rep.marks_used if rep else None, rep.quality_checks if rep else None,
                    rep.quality_failed if rep else None])
        if rep:
            o = output.setdefault(gi.name, [gi.name, 0, 0.0, 0.0, 0])
            o[1] += 1
            o[2] += rep.output_tonnes
            o[3] += rep.sales_wan_yuan
            o[4] += rep.marks_used
    notes = [["报告年度", year], ["依据", "国知办函保字〔2023〕1072号（年度地理标志保护监管工作报告）所列内容"],
             ["字段", "国家知识产权局地理标志保护数据管理系统模板（附件1）字段清单未能获得；各表列名为本平台拟定，需按模板核对"],
             ["数据来源", "地理标志名录：平台资源库（含来源与可信度）；用标与年报：平台在线申报"],
             ["生成时间(UTC)", m.utcnow().isoformat(timespec="seconds")]]
    return {"gi_products": products, "gi_marks": marks, "mark_use": use, "output": list(output.values()), "notes": notes}


def annual_report_xlsx(session: Session, year: int) -> bytes:
    import openpyxl

    rows = annual_report_rows(session, year)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for key, (title, header) in SHEETS.items():
        ws = wb.create_sheet(title)
        ws.append(list(header))
        for row in rows[key]:
            ws.append([_safe(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never a formula
    return value
