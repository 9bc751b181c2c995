"""GI management pages and their JSON twins: a thin layer over `xjip.gi` (library, special-mark
users and reports, coverage, e-commerce clues, census)."""
from __future__ import annotations

import datetime as dt
import secrets
import shutil
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as FPath
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from xjip.gi import GIError
from xjip.web.auth import ENTERPRISE, Principal
from xjip.web.deps import get_store, require, safe_next, sees_personal_data, verify_csrf
from xjip.web.errors import ApiError
from xjip.web.routes.account import flash

router = APIRouter()
STAFF = require("staff")
STAFF_POST = [Depends(STAFF), Depends(verify_csrf)]
Staff = Annotated[Principal, Depends(STAFF)]
ENTERPRISE_ONLY = require(ENTERPRISE)
ENTERPRISE_POST = [Depends(ENTERPRISE_ONLY), Depends(verify_csrf)]
Enterprise = Annotated[Principal, Depends(ENTERPRISE_ONLY)]
Code = Annotated[str | None, Query(pattern=r"^(\d{6})?$")]
Text = Annotated[str | None, Query(max_length=100)]


def api_error(err: GIError) -> ApiError:
    zh, en = err.messages()
    return ApiError(400, err.code, err.as_dict(), message_id="gi.located", zh=zh, en=en)


def back(request: Request, target: str, err: GIError | None = None, ok: str | None = None, **params: Any) -> RedirectResponse:
    if err is not None:
        zh, en = err.messages()
        flash(request, "error", "gi.located", zh=zh, en=en)
    elif ok:
        flash(request, "ok", ok, **params)
    return RedirectResponse(target, status_code=303)


def _render(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    return request.app.state.render(request, template, context)


def _this_year() -> int:
    return dt.date.today().year


# --- library -------------------------------------------------------------------------------

def library_data(request: Request, tier: str, code: str | None, q: str | None, system: str | None,
                 category: str | None, gaps: bool) -> dict[str, Any]:
    from xjip.gi.library import list_gis

    try:
        with get_store(request).reading() as s:
            return list_gis(s, tier=tier, code=code, q=(q or "").strip() or None, system=system or None,
                            category=category or None, gaps_only=gaps)
    except GIError as err:
        raise api_error(err) from None


Tier = Annotated[str, Query(pattern=r"^(region|prefecture|county)$")]


@router.get("/gi", response_class=HTMLResponse, include_in_schema=False)
def library_page(request: Request, tier: Tier = "region", code: Code = None, q: Text = None, system: Text = None,
                 category: Text = None, gaps: bool = False) -> HTMLResponse:
    data = library_data(request, tier, code, q, system, category, gaps)
    chart = {"prefecture": {"labels": [p["name"] or p["code"] for p in data["by_prefecture"]],
                            "codes": [p["code"] for p in data["by_prefecture"]],
                            "data": [p["count"] for p in data["by_prefecture"]]},
             "category": [{"name": c["category"], "value": c["count"]} for c in data["by_category"]]}
    return _render(request, "gi_library.html", {"data": data, "chart": chart})


@router.get("/api/gi", tags=["gi"], summary="GI library of one tier (region / prefecture / county) with distribution and gaps")
def library_api(request: Request, tier: Tier = "region", code: Code = None, q: Text = None, system: Text = None,
                category: Text = None, gaps: bool = False) -> dict[str, Any]:
    return library_data(request, tier, code, q, system, category, gaps)


def detail_data(request: Request, gi_id: int) -> dict[str, Any]:
    from xjip.gi import marks
    from xjip.gi.library import gi_detail

    with get_store(request).reading() as s:
        data = gi_detail(s, gi_id)
        if data is None:
            raise ApiError(404)
        # Applicants may be individual producers: their names are shown to accounts only.
        data["applications"] = marks.list_applications(s, gi_id=gi_id) if sees_personal_data(request) else []
    return data


@router.get("/gi/{gi_id:int}", response_class=HTMLResponse, include_in_schema=False)
def detail_page(request: Request, gi_id: int) -> HTMLResponse:
    from xjip.gi.library import EDITABLE
    from xjip.gi.marks import USER_TYPES

    return _render(request, "gi_detail.html", {"data": detail_data(request, gi_id), "editable": EDITABLE,
                                               "user_types": USER_TYPES})


@router.get("/api/gi/{gi_id:int}", tags=["gi"], summary="One GI: facts, names, areas (former units flagged), gaps, users, history")
def detail_api(request: Request, gi_id: int) -> dict[str, Any]:
    return detail_data(request, gi_id)


class EditRequest(BaseModel):
    changes: dict[str, str | None] = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)


def _edit(request: Request, gi_id: int, changes: dict[str, Any], reason: str | None, user: Principal) -> dict[str, Any]:
    from xjip.gi.library import update_gi

    with get_store(request).session() as s:
        return update_gi(s, gi_id, changes, user.username, reason)


@router.post("/gi/{gi_id:int}/edit", include_in_schema=False, dependencies=STAFF_POST)
async def edit_form(request: Request, gi_id: int, user: Staff) -> RedirectResponse:
    from xjip.gi.library import EDITABLE

    form = await request.form()
    changes = {k: str(form[k]) for k in EDITABLE if k in form and str(form[k]).strip() != ""}
    try:
        result = _edit(request, gi_id, changes, str(form.get("reason") or ""), user)
    except GIError as err:
        return back(request, f"/gi/{gi_id}", err)
    return back(request, f"/gi/{gi_id}", ok="gi.flash.saved", fields="、".join(result["changed"]))


@router.post("/api/gi/{gi_id:int}/edit", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: change facts of a GI (filled gaps are audited with before/after values)")
def edit_api(request: Request, gi_id: int, body: Annotated[EditRequest, Body()], user: Staff) -> dict[str, Any]:
    try:
        return _edit(request, gi_id, body.changes, body.reason, user)
    except GIError as err:
        raise api_error(err) from None


# --- special-mark users --------------------------------------------------------------------

def marks_data(request: Request, status: str | None) -> dict[str, Any]:
    from xjip.gi import marks

    with get_store(request).reading() as s:
        return {"items": marks.list_applications(s, status=status or None), "status": status,
                "statuses": marks.STATUSES}


Status = Annotated[str | None, Query(pattern=r"^(submitted|reviewed|approved|rejected|revoked)?$")]


@router.get("/gi/marks/applications", response_class=HTMLResponse, include_in_schema=False)
def marks_page(request: Request, user: Staff, status: Status = None) -> HTMLResponse:
    return _render(request, "gi_marks.html", {"data": marks_data(request, status)})


@router.get("/api/gi/marks/applications", tags=["gi"], summary="Staff: special-mark applications and users")
def marks_api(request: Request, user: Staff, status: Status = None) -> dict[str, Any]:
    return marks_data(request, status)


def _docs(text: str | None) -> list[dict[str, str]]:
    return [{"name": line.strip()} for line in (text or "").splitlines() if line.strip()]


DOCUMENTS_DIR = "gi_documents"
MAX_FILES = 10


def _documents_root(request: Request) -> FsPath:
    return FsPath(request.app.state.settings.data_dir) / DOCUMENTS_DIR


def _save_files(request: Request, files: list[UploadFile]) -> tuple[list[dict[str, Any]], FsPath | None]:
    """Uploaded documents saved under <data_dir>/gi_documents/<token>/ (names sanitised, size-checked)."""
    from xjip.web.uploads import UploadTooLarge, save_upload

    files = [f for f in files if f is not None and f.filename]
    if not files:
        return [], None
    if len(files) > MAX_FILES:
        raise GIError("too_many_documents", "files", limit=MAX_FILES)
    token = secrets.token_hex(8)
    folder = _documents_root(request) / token
    folder.mkdir(parents=True, exist_ok=False)
    limit = request.app.state.settings.max_upload_mb << 20
    docs = []
    try:
        for f in files:
            try:
                path = save_upload(f.file, folder, f.filename or "document", limit)
            except FileExistsError:
                continue  # the same name twice: kept once
            docs.append({"name": f.filename or path.name, "file": f"{token}/{path.name}", "bytes": path.stat().st_size})
    except UploadTooLarge:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(413, message_id="import.error.too_large", limit_mb=request.app.state.settings.max_upload_mb) from None
    return docs, folder


@router.post("/gi/{gi_id:int}/applications", include_in_schema=False, dependencies=STAFF_POST)
def submit_form(request: Request, gi_id: int, user: Staff, applicant_name: Annotated[str, Form(max_length=300)] = "",
                credit_code: Annotated[str, Form(max_length=40)] = "", address: Annotated[str, Form(max_length=1000)] = "",
                user_type: Annotated[str, Form(max_length=40)] = "", documents: Annotated[str, Form(max_length=5000)] = "",
                files: Annotated[list[UploadFile] | None, File()] = None) -> RedirectResponse:
    from xjip.gi import marks

    folder = None
    try:
        saved, folder = _save_files(request, list(files or []))
        with get_store(request).session() as s:
            app = marks.submit(s, gi_id, applicant_name, credit_code, address, user_type, [*_docs(documents), *saved],
                               user.username)
    except GIError as err:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)  # nothing kept for an application not recorded
        return back(request, f"/gi/{gi_id}", err)
    return back(request, f"/gi/marks/{app['id']}", ok="gi.flash.submitted")


@router.get("/gi/documents/{token}/{name}", tags=["gi"], summary="Staff: a document uploaded with an application")
def document(request: Request, user: Staff, token: Annotated[str, FPath(pattern=r"^[0-9a-f]{16}$")],
             name: Annotated[str, FPath(max_length=200)]) -> FileResponse:
    root = _documents_root(request).resolve()
    path = (root / token / name).resolve()
    if path.parent != root / token or not path.is_file():
        raise ApiError(404)
    return FileResponse(path, filename=name, headers={"X-Content-Type-Options": "nosniff"},
                        media_type="application/octet-stream")


class ApplicationRequest(BaseModel):
    applicant_name: str = Field(max_length=300)
    credit_code: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=1000)
    user_type: str = Field(max_length=40)
    documents: list[str] = Field(max_length=20)


@router.post("/api/gi/{gi_id:int}/applications", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: record an application to use the special mark")
def submit_api(request: Request, gi_id: int, body: Annotated[ApplicationRequest, Body()], user: Staff) -> dict[str, Any]:
    from xjip.gi import marks

    try:
        with get_store(request).session() as s:
            return marks.submit(s, gi_id, body.applicant_name, body.credit_code, body.address, body.user_type,
                                [{"name": d} for d in body.documents], user.username)
    except GIError as err:
        raise api_error(err) from None


def application_data(request: Request, app_id: int) -> dict[str, Any]:
    from xjip.gi import marks
    from xjip.gi.enterprise import accounts_of
    from xjip.hub import models as m

    with get_store(request).reading() as s:
        app = s.get(m.GIMarkApplication, app_id) if m.is_row_id(app_id) else None
        if app is None:
            raise ApiError(404)
        return {**marks.application_dict(s, app), "accounts": accounts_of(s, app.mark_user_id)}


@router.get("/gi/marks/{app_id:int}", response_class=HTMLResponse, include_in_schema=False)
def application_page(request: Request, app_id: int, user: Staff) -> HTMLResponse:
    from xjip.gi.marks import REPORT_FIELDS

    return _render(request, "gi_mark.html", {"data": application_data(request, app_id), "report_fields": REPORT_FIELDS,
                                             "this_year": _this_year()})


@router.get("/api/gi/marks/{app_id:int}", tags=["gi"], summary="Staff: one application with its history and usage reports")
def application_api(request: Request, app_id: int, user: Staff) -> dict[str, Any]:
    return application_data(request, app_id)


Action = Annotated[str, Form(pattern=r"^(pass|reject|approve|revoke)$")]


def _act(request: Request, app_id: int, action: str, user: Principal, reason: str | None, announcement_no: str | None,
         documents: list[dict[str, str]]) -> dict[str, Any]:
    from xjip.gi import marks

    with get_store(request).session() as s:
        if action in ("pass", "reject"):
            return marks.review(s, app_id, action == "pass", user.username, reason)
        if action == "approve":
            return marks.approve(s, app_id, user.username, announcement_no, reason)
        return marks.revoke(s, app_id, user.username, reason, documents)


@router.post("/gi/marks/{app_id:int}/action", include_in_schema=False, dependencies=STAFF_POST)
def action_form(request: Request, app_id: int, user: Staff, action: Action,
                reason: Annotated[str, Form(max_length=2000)] = "", announcement_no: Annotated[str, Form(max_length=100)] = "",
                documents: Annotated[str, Form(max_length=5000)] = "") -> RedirectResponse:
    try:
        _act(request, app_id, action, user, reason, announcement_no, _docs(documents))
    except GIError as err:
        return back(request, f"/gi/marks/{app_id}", err)
    return back(request, f"/gi/marks/{app_id}", ok=f"gi.flash.{action}")


class ActionRequest(BaseModel):
    action: str = Field(pattern=r"^(pass|reject|approve|revoke)$")
    reason: str | None = Field(default=None, max_length=2000)
    announcement_no: str | None = Field(default=None, max_length=100)
    documents: list[str] = Field(default_factory=list, max_length=20)


@router.post("/api/gi/marks/{app_id:int}/action", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: review (pass/reject), approve or revoke an application, with reasons")
def action_api(request: Request, app_id: int, body: Annotated[ActionRequest, Body()], user: Staff) -> dict[str, Any]:
    try:
        return _act(request, app_id, body.action, user, body.reason, body.announcement_no,
                    [{"name": d} for d in body.documents])
    except GIError as err:
        raise api_error(err) from None


@router.post("/gi/marks/{app_id:int}/reports", include_in_schema=False, dependencies=STAFF_POST)
async def report_form(request: Request, app_id: int, user: Staff) -> RedirectResponse:
    from xjip.gi import marks

    form = await request.form()
    values = {k: str(form.get(k) or "")[:60] for k in (*marks.REPORT_FIELDS, "note")}
    try:
        with get_store(request).session() as s:
            marks.submit_report(s, app_id, str(form.get("year") or "")[:10], values, user.username)
    except GIError as err:
        return back(request, f"/gi/marks/{app_id}", err)
    return back(request, f"/gi/marks/{app_id}", ok="gi.flash.reported")


class ReportFigures(BaseModel):
    """A usage report's figures, as staff and the enterprise both file them (checked in `marks`,
    which names the field it refuses)."""
    output_tonnes: float | str
    sales_wan_yuan: float | str
    marks_used: int | str
    quality_checks: int | str
    quality_failed: int | str | None = 0
    price_yuan_per_kg: float | str | None = None
    note: str | None = Field(default=None, max_length=2000)


class ReportRequest(ReportFigures):
    year: int


@router.post("/api/gi/marks/{app_id:int}/reports", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: file a user's annual usage report (用标年报); bad figures refused with the field named")
def report_api(request: Request, app_id: int, body: Annotated[ReportRequest, Body()], user: Staff) -> dict[str, Any]:
    from xjip.gi import marks

    try:
        with get_store(request).session() as s:
            return marks.submit_report(s, app_id, body.year, body.model_dump(), user.username)
    except GIError as err:
        raise api_error(err) from None


# --- users approved before the platform: enrolment (staff) ------------------------------------

UserType = Annotated[str, Form(max_length=40)]


def _enrol(request: Request, mark_user_id: int, user_type: str, user: Principal) -> dict[str, Any]:
    from xjip.gi import marks

    with get_store(request).session() as s:
        return marks.enrol(s, mark_user_id, user_type, user.username)


@router.post("/gi/marks/users/{mark_user_id:int}/enrol", include_in_schema=False, dependencies=STAFF_POST)
def enrol_form(request: Request, mark_user_id: int, user: Staff, user_type: UserType = "",
               gi_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None) -> RedirectResponse:
    try:
        app = _enrol(request, mark_user_id, user_type, user)
    except GIError as err:
        if err.code == "already_enrolled":
            return back(request, f"/gi/marks/{err.params['other']}", err)
        return back(request, f"/gi/{gi_id}#users" if gi_id else "/gi/marks/applications", err)
    return back(request, f"/gi/marks/{app['id']}#accounts", ok="gi.flash.enrolled")


class EnrolRequest(BaseModel):
    user_type: str = Field(max_length=40)


@router.post("/api/gi/marks/users/{mark_user_id:int}/enrol", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: bring a user approved before the platform (imported register row) into online reporting")
def enrol_api(request: Request, mark_user_id: int, body: Annotated[EnrolRequest, Body()], user: Staff) -> dict[str, Any]:
    try:
        return _enrol(request, mark_user_id, body.user_type, user)
    except GIError as err:
        if err.code == "not_found":
            raise ApiError(404) from None
        raise api_error(err) from None


# --- enterprise accounts of a user (staff) --------------------------------------------------

HANDED_OVER = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"  # read aloud or copied from paper: no 0/O, 1/l/I


def _create_account(request: Request, app_id: int, username: str, display_name: str | None,
                    user: Principal) -> dict[str, Any]:
    """A new enterprise account linked to the approved user; the generated password is returned
    once (shown on the page that answers the form, never stored in clear or in the cookie)."""
    from xjip.gi import enterprise
    from xjip.web import auth

    password = "".join(secrets.choice(HANDED_OVER) for _ in range(14))  # ≈ 80 bits
    with get_store(request).session() as s:
        mark_user = enterprise.approved_user(s, app_id)
        try:
            account = auth.create_user(s, username, password, ENTERPRISE, actor=user.username,
                                       display_name=(display_name or "").strip() or mark_user.user_name[:100])
        except auth.UserError as err:
            raise ApiError(409 if err.code == "user_exists" else 400, err.code, **err.params) from None
        return {**enterprise.link_account(s, app_id, account, user.username), "password": password}


def _link_account(request: Request, app_id: int, username: str, user: Principal) -> dict[str, Any]:
    from xjip.gi import enterprise
    from xjip.web.auth import get_user

    with get_store(request).session() as s:
        return enterprise.link_account(s, app_id, get_user(s, username or ""), user.username, username)


def _unlink_account(request: Request, app_id: int, user_id: int, user: Principal) -> dict[str, Any]:
    from xjip.gi import enterprise

    with get_store(request).session() as s:
        return enterprise.unlink_account(s, app_id, user_id, user.username)


Username = Annotated[str, Form(max_length=100)]


@router.post("/gi/marks/{app_id:int}/accounts", include_in_schema=False, dependencies=STAFF_POST)
def account_create_form(request: Request, app_id: int, user: Staff, username: Username = "",
                        display_name: Annotated[str, Form(max_length=100)] = "") -> Response:
    try:
        created = _create_account(request, app_id, username, display_name, user)
    except GIError as err:
        return back(request, f"/gi/marks/{app_id}#accounts", err)
    except ApiError as err:
        flash(request, "error", err.message_id, **err.params)
        return RedirectResponse(f"/gi/marks/{app_id}#accounts", status_code=303)
    return _render(request, "gi_account_created.html", {"created": created, "app_id": app_id})


class AccountRequest(BaseModel):
    username: str = Field(max_length=100)
    display_name: str | None = Field(default=None, max_length=100)


@router.post("/api/gi/marks/{app_id:int}/accounts", tags=["gi"], dependencies=STAFF_POST, status_code=201,
             summary="Staff: create an enterprise account for an approved special-mark user (one-time password returned once)")
def account_create_api(request: Request, app_id: int, body: Annotated[AccountRequest, Body()], user: Staff) -> dict[str, Any]:
    try:
        return _create_account(request, app_id, body.username, body.display_name, user)
    except GIError as err:
        raise api_error(err) from None


@router.post("/gi/marks/{app_id:int}/accounts/link", include_in_schema=False, dependencies=STAFF_POST)
def account_link_form(request: Request, app_id: int, user: Staff, username: Username = "") -> RedirectResponse:
    try:
        linked = _link_account(request, app_id, username, user)
    except GIError as err:
        return back(request, f"/gi/marks/{app_id}#accounts", err)
    return back(request, f"/gi/marks/{app_id}#accounts", ok="gi.flash.account_linked", username=linked["username"])


class LinkRequest(BaseModel):
    username: str = Field(max_length=100)


@router.post("/api/gi/marks/{app_id:int}/accounts/link", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: link an existing enterprise account to one more approved special-mark user")
def account_link_api(request: Request, app_id: int, body: Annotated[LinkRequest, Body()], user: Staff) -> dict[str, Any]:
    try:
        return _link_account(request, app_id, body.username, user)
    except GIError as err:
        raise api_error(err) from None


@router.post("/gi/marks/{app_id:int}/accounts/{user_id:int}/unlink", include_in_schema=False, dependencies=STAFF_POST)
def account_unlink_form(request: Request, app_id: int, user_id: int, user: Staff) -> RedirectResponse:
    try:
        gone = _unlink_account(request, app_id, user_id, user)
    except GIError as err:
        return back(request, f"/gi/marks/{app_id}#accounts", err)
    return back(request, f"/gi/marks/{app_id}#accounts", ok="gi.flash.account_unlinked", username=gone["username"])


@router.post("/api/gi/marks/{app_id:int}/accounts/{user_id:int}/unlink", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: end an enterprise account's access to this user's reports")
def account_unlink_api(request: Request, app_id: int, user_id: int, user: Staff) -> dict[str, Any]:
    try:
        return _unlink_account(request, app_id, user_id, user)
    except GIError as err:
        if err.code == "not_found":
            raise ApiError(404) from None
        raise api_error(err) from None


# --- accepting or returning a report (staff) --------------------------------------------------

Decision = Annotated[str, Form(pattern=r"^(accept|return)$")]


def _decide(request: Request, report_id: int, action: str, reason: str | None, user: Principal) -> dict[str, Any]:
    from xjip.gi import marks

    with get_store(request).session() as s:
        return marks.decide_report(s, report_id, action == "accept", user.username, reason)


@router.post("/gi/reports/{report_id:int}/decision", include_in_schema=False, dependencies=STAFF_POST)
def decision_form(request: Request, report_id: int, user: Staff, action: Decision,
                  reason: Annotated[str, Form(max_length=2000)] = "",
                  next: Annotated[str, Form(max_length=300)] = "/gi/reports") -> RedirectResponse:
    target = safe_next(next, "/gi/reports")
    try:
        result = _decide(request, report_id, action, reason, user)
    except GIError as err:
        return back(request, target, err)
    return back(request, target, ok=f"gi.flash.report_{result['status']}", year=result["year"])


class DecisionRequest(BaseModel):
    action: str = Field(pattern=r"^(accept|return)$")
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/api/gi/reports/{report_id:int}/decision", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: accept a usage report (it is then locked) or return it with a reason (the user corrects it)")
def decision_api(request: Request, report_id: int, body: Annotated[DecisionRequest, Body()], user: Staff) -> dict[str, Any]:
    try:
        return _decide(request, report_id, body.action, body.reason, user)
    except GIError as err:
        if err.code == "not_found":
            raise ApiError(404) from None
        raise api_error(err) from None


# --- the enterprise's own annual reports -------------------------------------------------------

def my_data(request: Request, user: Principal) -> dict[str, Any]:
    from xjip.gi.enterprise import my_reports

    with get_store(request).reading() as s:
        return my_reports(s, user.id)


@router.get("/gi/my", response_class=HTMLResponse, include_in_schema=False)
def my_page(request: Request, user: Enterprise) -> HTMLResponse:
    return _render(request, "gi_my.html", {"data": my_data(request, user)})


@router.get("/api/gi/my", tags=["gi"], summary="Enterprise: my special-mark users and their annual reports (due, filed, returned, accepted)")
def my_api(request: Request, user: Enterprise) -> dict[str, Any]:
    return my_data(request, user)


def my_year_data(request: Request, user: Principal, app_id: int, year: int) -> dict[str, Any]:
    from xjip.gi.enterprise import my_report

    try:
        with get_store(request).reading() as s:
            return my_report(s, user.id, app_id, year)
    except GIError as err:
        if err.code == "not_found":
            raise ApiError(404) from None  # another enterprise's, or none: the same answer
        raise api_error(err) from None


MyYear = Annotated[int, FPath(ge=2000, le=2100)]


def _my_form(request: Request, data: dict[str, Any], values: dict[str, Any] | None = None,
             error: GIError | None = None) -> HTMLResponse:
    from xjip.gi.marks import REPORT_FIELDS

    report = data["report"] or {}
    shown = values if values is not None else {k: ("" if report.get(k) is None else report.get(k))
                                               for k in (*REPORT_FIELDS, "note")}
    return request.app.state.render(request, "gi_my_report.html", {
        "data": data, "values": shown, "report_fields": REPORT_FIELDS, "error": error.messages() if error else None,
        "error_field": error.field if error else None}, status=400 if error else 200)


@router.get("/gi/my/{app_id:int}/{year:int}", response_class=HTMLResponse, include_in_schema=False)
def my_year_page(request: Request, app_id: int, year: MyYear, user: Enterprise) -> HTMLResponse:
    return _my_form(request, my_year_data(request, user, app_id, year))


@router.get("/api/gi/my/{app_id:int}/{year:int}", tags=["gi"], summary="Enterprise: one year's usage report of one of my users")
def my_year_api(request: Request, app_id: int, year: MyYear, user: Enterprise) -> dict[str, Any]:
    return my_year_data(request, user, app_id, year)


def _save_mine(request: Request, user: Principal, app_id: int, year: int, values: dict[str, Any]) -> dict[str, Any]:
    from xjip.gi.enterprise import save_my_report

    with get_store(request).session() as s:
        return save_my_report(s, user.id, user.username, app_id, year, values)


@router.post("/gi/my/{app_id:int}/{year:int}", include_in_schema=False, dependencies=ENTERPRISE_POST)
async def my_year_form(request: Request, app_id: int, year: MyYear, user: Enterprise) -> Response:
    from xjip.gi.marks import REPORT_FIELDS

    data = my_year_data(request, user, app_id, year)  # 404 before the form is read when not this account's
    form = await request.form()
    values = {k: str(form.get(k) or "")[:60 if k != "note" else 2000] for k in (*REPORT_FIELDS, "note")}
    try:
        _save_mine(request, user, app_id, year, values)
    except GIError as err:
        return _my_form(request, data, values, err)
    return back(request, "/gi/my", ok="gi.flash.my_saved", year=year)


@router.post("/api/gi/my/{app_id:int}/{year:int}", tags=["gi"], dependencies=ENTERPRISE_POST,
             summary="Enterprise: file the year's usage report, or correct it until staff accept it")
def my_year_save_api(request: Request, app_id: int, year: MyYear, body: Annotated[ReportFigures, Body()],
                     user: Enterprise) -> dict[str, Any]:
    my_year_data(request, user, app_id, year)
    try:
        return _save_mine(request, user, app_id, year, body.model_dump())
    except GIError as err:
        if err.code == "not_found":
            raise ApiError(404) from None
        raise api_error(err) from None


# --- reports: not reported, reminders, annual workbook, coverage ---------------------------

Year = Annotated[int | None, Query(ge=2000, le=2100)]
Definition = Annotated[str | None, Query(pattern=r"^(gi_with_users|products_with_users)?$",
                                         description="Default: the current indicator setting gi_coverage")]


def reports_data(request: Request, year: int | None, definition: str | None) -> dict[str, Any]:
    from xjip.gi import marks
    from xjip.gi.coverage import coverage

    year = year or _this_year() - 1
    try:
        with get_store(request).reading() as s:
            cov = {level: coverage(s, level=level, definition=definition or None, year=year)
                   for level in ("region", "prefecture")}
            return {"year": year, "not_reported": marks.not_reported(s, year), "coverage": cov,
                    "definition": cov["region"]["definition"]}
    except GIError as err:
        raise api_error(err) from None


@router.get("/gi/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, user: Staff, year: Year = None, definition: Definition = None) -> HTMLResponse:
    return _render(request, "gi_reports.html", {"data": reports_data(request, year, definition)})


@router.get("/api/gi/reports", tags=["gi"], summary="Staff: who has not reported a year, and special-mark coverage")
def reports_api(request: Request, user: Staff, year: Year = None, definition: Definition = None) -> dict[str, Any]:
    return reports_data(request, year, definition)


@router.get("/api/gi/coverage", tags=["gi"], summary="Special-mark coverage with numerator, denominator and definition")
def coverage_api(request: Request, level: Annotated[str, Query(pattern=r"^(gi|prefecture|region)$")] = "region",
                 definition: Definition = None, year: Year = None) -> dict[str, Any]:
    from xjip.gi.coverage import coverage

    with get_store(request).reading() as s:
        return coverage(s, level=level, definition=definition or None, year=year)


@router.post("/gi/reports/remind", include_in_schema=False, dependencies=STAFF_POST)
def remind_form(request: Request, user: Staff, year: Annotated[int, Form(ge=2000, le=2100)]) -> RedirectResponse:
    from xjip.gi import marks

    with get_store(request).session() as s:
        result = marks.send_reminders(s, year, user.username)
    return back(request, f"/gi/reports?year={year}", ok="gi.flash.reminded", count=result["reminded"])


@router.get("/gi/reports/annual.xlsx", tags=["gi"], summary="Staff: province-level annual GI report (XLSX)")
def annual_xlsx(request: Request, user: Staff, year: Annotated[int, Query(ge=2000, le=2100)]) -> Response:
    from xjip.gi import marks

    try:
        with get_store(request).reading() as s:
            data = marks.annual_report_xlsx(s, year)
    except GIError as err:
        raise api_error(err) from None
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="xjip-gi-annual-{year}.xlsx"'})


# --- e-commerce clues ----------------------------------------------------------------------

ClueStatus = Annotated[str | None, Query(pattern=r"^(new|confirmed|dismissed|referred|closed)?$")]
Rule = Annotated[str | None, Query(max_length=30)]


def clues_data(request: Request, status: str | None, rule: str | None, prefecture: str | None) -> dict[str, Any]:
    from xjip.gi.clues import list_clues, list_whitelist

    with get_store(request).reading() as s:
        data = list_clues(s, status=status or None, rule=rule or None, prefecture=prefecture or None)
        data["whitelist"] = list_whitelist(s)
    return data


@router.get("/gi/clues", response_class=HTMLResponse, include_in_schema=False)
def clues_page(request: Request, user: Staff, status: ClueStatus = None, rule: Rule = None, prefecture: Code = None
               ) -> HTMLResponse:
    from xjip.gi.monitor import RULES

    last = request.session.pop("gi_import", None)
    return _render(request, "gi_clues.html", {"data": clues_data(request, status, rule, prefecture), "rules": RULES,
                                              "last_import": last})


@router.get("/api/gi/clues", tags=["gi"], summary="Staff: e-commerce infringement clues with evidence and triage state")
def clues_api(request: Request, user: Staff, status: ClueStatus = None, rule: Rule = None, prefecture: Code = None
              ) -> dict[str, Any]:
    return clues_data(request, status, rule, prefecture)


def _import(request: Request, name: str, data: bytes, batch: str | None, user: Principal) -> dict[str, Any]:
    from xjip.gi.clues import import_listings
    from xjip.gi.listings import read_listings

    listing_file = read_listings(name, data)
    with get_store(request).session() as s:
        return import_listings(s, listing_file, batch or listing_file.name, user.username)


async def _read_upload(request: Request, file: UploadFile) -> bytes:
    limit = request.app.state.settings.max_upload_mb << 20
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, message_id="import.error.too_large", limit_mb=request.app.state.settings.max_upload_mb)
    return data


@router.post("/gi/clues/import", include_in_schema=False, dependencies=STAFF_POST)
async def import_form(request: Request, user: Staff, file: Annotated[UploadFile, File()],
                      batch: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    data = await _read_upload(request, file)
    try:
        result = _import(request, file.filename or "listings.csv", data, batch.strip() or None, user)
    except GIError as err:
        return back(request, "/gi/clues", err)
    request.session["gi_import"] = {k: result[k] for k in ("batch", "file", "read", "stored", "duplicates", "rejected",
                                                           "clues", "unresolved_location")} | {
        "rejections": result["rejections"][:20]}
    return back(request, "/gi/clues", ok="gi.flash.imported", stored=result["stored"], clues=result["clues"])


@router.post("/api/gi/clues/import", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: import a listings file (CSV/XLSX/JSON) and store the clues found")
async def import_api(request: Request, user: Staff, file: Annotated[UploadFile, File()],
                     batch: Annotated[str | None, Form(max_length=100)] = None) -> dict[str, Any]:
    data = await _read_upload(request, file)
    try:
        return _import(request, file.filename or "listings.csv", data, batch, user)
    except GIError as err:
        raise api_error(err) from None


@router.post("/gi/clues/{clue_id:int}/triage", include_in_schema=False, dependencies=STAFF_POST)
def triage_form(request: Request, clue_id: int, user: Staff,
                status: Annotated[str, Form(pattern=r"^(new|confirmed|dismissed|referred|closed)$")],
                note: Annotated[str, Form(max_length=2000)] = "", outcome: Annotated[str, Form(max_length=2000)] = ""
                ) -> RedirectResponse:
    from xjip.gi.clues import triage

    try:
        with get_store(request).session() as s:
            triage(s, clue_id, status, user.username, note, outcome)
    except GIError as err:
        return back(request, f"/gi/clues#clue-{clue_id}", err)
    return back(request, f"/gi/clues#clue-{clue_id}", ok="gi.flash.triaged")


class TriageRequest(BaseModel):
    status: str = Field(pattern=r"^(new|confirmed|dismissed|referred|closed)$")
    note: str | None = Field(default=None, max_length=2000)
    outcome: str | None = Field(default=None, max_length=2000)


@router.post("/api/gi/clues/{clue_id:int}/triage", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: confirm, dismiss (with a reason), refer to the seller's prefecture, or close with the outcome")
def triage_api(request: Request, clue_id: int, body: Annotated[TriageRequest, Body()], user: Staff) -> dict[str, Any]:
    from xjip.gi.clues import triage

    try:
        with get_store(request).session() as s:
            return triage(s, clue_id, body.status, user.username, body.note, body.outcome)
    except GIError as err:
        raise api_error(err) from None


@router.post("/gi/clues/package", tags=["gi"], dependencies=STAFF_POST,
             summary="Staff: the selected clues with their evidence as a ZIP (CSV + JSON)")
def package(request: Request, user: Staff, ids: Annotated[list[int] | None, Form()] = None) -> Response:
    from xjip.gi.clues import clue_package

    try:
        with get_store(request).reading() as s:
            data = clue_package(s, list(ids or [])[:5000])
    except GIError as err:
        if request.headers.get("accept", "").startswith("application/json"):
            raise api_error(err) from None
        return back(request, "/gi/clues", err)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="xjip-gi-clues-{stamp}.zip"'})


@router.post("/gi/whitelist", include_in_schema=False, dependencies=STAFF_POST)
def whitelist_form(request: Request, user: Staff, shop: Annotated[str, Form(max_length=300)] = "",
                   gi_id: Annotated[str, Form(max_length=12)] = "", note: Annotated[str, Form(max_length=1000)] = ""
                   ) -> RedirectResponse:
    from xjip.gi.clues import add_whitelist

    try:
        target = int(gi_id) if gi_id.strip() else None
    except ValueError:
        return back(request, "/gi/clues", GIError("not_found", "gi_id", value=gi_id[:12]))
    try:
        with get_store(request).session() as s:
            add_whitelist(s, shop, target, user.username, note)
    except GIError as err:
        return back(request, "/gi/clues", err)
    return back(request, "/gi/clues", ok="gi.flash.whitelisted", shop=shop.strip())


# --- census --------------------------------------------------------------------------------

def census_data(request: Request) -> dict[str, Any]:
    from xjip.gi.census import candidates, value_assessment

    with get_store(request).reading() as s:
        return {"candidates": candidates(s), "value": value_assessment(s)}


@router.get("/gi/census", response_class=HTMLResponse, include_in_schema=False)
def census_page(request: Request) -> HTMLResponse:
    return _render(request, "gi_census.html", {"data": census_data(request)})


@router.get("/api/gi/census", tags=["gi"], summary="Census candidates (unprotected place + product names) and value assessment")
def census_api(request: Request) -> dict[str, Any]:
    return census_data(request)
