"""The real app over HTTP (TestClient) on SQLite and PostgreSQL: pages and their JSON twins, roles,
CSRF, the error envelope, masking, pagination tokens, uploads (name traversal, 413), users."""
from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import time
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from xjip.app import create_app
from xjip.hub import models as m
from xjip.hub import queries
from xjip.web.auth import hash_password, verify_password
from xjip.web.uploads import sanitize_filename

from .conftest import PASSWORDS, Loaded, client_as, login

PUBLIC_PAGES = ["/", "/regions", "/entities", "/templates", "/docs", "/login", "/records/patent", "/records/gi",
                "/records/trademark", "/records/institution"]
STAFF_PAGES = ["/import", "/jobs"]


def envelope(response) -> dict:  # noqa: ANN001
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message_zh", "message_en", "detail"}, body
    return body["error"]


# --- public pages and JSON twins ----------------------------------------------------------------

def test_public_pages_render_in_chinese(client: TestClient, loaded: Loaded) -> None:
    for path in PUBLIC_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "新疆知识产权公共服务平台" in response.text, path
    overview = client.get("/").text
    assert "阿克苏地区" in overview and "按地州市统计" in overview and "数据质量" in overview
    assert 'href="/records/gi?prefecture=652900">14</a>' in overview  # drill-down link with the real count


def test_overview_json_twin_is_the_query_result(client: TestClient, store, loaded: Loaded) -> None:
    api = client.get("/api/overview").json()
    with store.session() as s:
        direct = queries.overview(s)
    assert api["total"] == direct["total"] == 152
    assert api["by_prefecture"] == direct["by_prefecture"]
    assert [t["total"] for t in api["by_type"]] == [t["total"] for t in direct["by_type"]]


def test_drill_down_from_overview_to_list_to_detail(client: TestClient, loaded: Loaded) -> None:
    page = client.get("/records/gi?prefecture=652900")
    assert page.status_code == 200 and "共 14 条" in page.text
    api = client.get("/api/records/gi", params={"prefecture": "652900"}).json()
    assert api["total"] == 14 and len(api["items"]) == 14
    korla = client.get("/api/records/gi", params={"county": "652801"}).json()["items"][0]
    assert korla["name"] == "库尔勒香梨"
    detail = client.get(f"/records/gi/{korla['id']}")
    assert detail.status_code == 200
    assert "国家质检总局2004年第185号公告" in detail.text and "库尔勒市" in detail.text
    twin = client.get(f"/api/records/gi/{korla['id']}").json()
    assert twin["fields"]["name"] == "库尔勒香梨" and twin["fields"]["approval_date"] == "2004-10-05"


def test_list_pages_with_opaque_tokens(client: TestClient, loaded: Loaded) -> None:
    ids, after = [], None
    while True:
        params = {"page_size": 20, **({"after": after} if after else {})}
        body = client.get("/api/records/patent", params=params).json()
        ids += [i["id"] for i in body["items"]]
        after = body["next"]
        if not after:
            break
        assert re.fullmatch(r"[A-Za-z0-9_-]+", after)
    assert len(ids) == len(set(ids)) == 58
    html = client.get("/records/patent?page_size=20").text
    assert 'rel="next"' in html and "共 58 条" in html
    bad = client.get("/api/records/patent", params={"after": "garbage"})
    assert bad.status_code == 400 and envelope(bad)["code"] == "bad_page_token"


def test_filters_on_pages(client: TestClient, loaded: Loaded) -> None:
    assert client.get("/api/records/patent", params={"year": "2021"}).json()["total"] == 8
    assert client.get("/api/records/patent", params={"patent_type": "invention", "status": "pending"}).json()["total"] == 2
    assert client.get("/api/records/patent", params={"q": "无人机", "year": ""}).json()["total"] == 5
    html = client.get("/records/patent", params={"prefecture": "other"}).text
    assert "共 10 条" in html and "一种无人机机载多功能盒" in html


def test_regions_and_entities(client: TestClient, loaded: Loaded) -> None:
    regions = client.get("/regions")
    assert regions.status_code == 200 and "阿拉尔市" in regions.text and "伊犁州管辖" in regions.text
    assert client.get("/api/regions").json()["root"]["name"] == "新疆维吾尔自治区"
    entity_id = loaded.entities["中科大数据研究院"]
    page = client.get(f"/entities/{entity_id}")
    assert page.status_code == 200 and "一种web端数据通用采集方法" in page.text
    assert "合并权利人" not in page.text  # merge/split forms are for staff
    assert client.get(f"/api/entities/{entity_id}").json()["total_rights"] == 10
    assert client.get("/api/entities", params={"q": "中科"}).json()["items"][0]["id"] == entity_id


# --- masking ------------------------------------------------------------------------------------

def test_public_views_mask_personal_data_and_accounts_see_it(app, client: TestClient, users, loaded: Loaded) -> None:
    patent = loaded.patents["CN201410513187.5"]
    public = client.get(f"/api/records/patent/{patent}").json()
    assert public["related"]["parties"][0]["address"] is None
    assert public["sources"][0]["raw"] is None
    page = client.get(f"/records/patent/{patent}").text
    assert "巨溪镇" not in page and "（已隐藏）" in page and "叶建鑫" in page  # inventor names stay public
    inst = client.get(f"/api/records/institution/{loaded.institution_id}").json()
    assert inst["fields"]["phone"] is None and "phone" in inst["masked"]
    assert "0991-0000000" not in client.get(f"/records/institution/{loaded.institution_id}").text

    viewer, _ = client_as(app, "viewer1")
    full = viewer.get(f"/api/records/patent/{patent}").json()
    assert full["related"]["parties"][0]["address"] == "325000 浙江省温州市瓯海区巨溪镇河南西路33号"
    assert "巨溪镇" in viewer.get(f"/records/patent/{patent}").text
    assert viewer.get(f"/api/records/institution/{loaded.institution_id}").json()["fields"]["phone"] == "0991-0000000"


# --- roles --------------------------------------------------------------------------------------

def test_staff_pages_need_a_login(client: TestClient, loaded: Loaded) -> None:
    for path in STAFF_PAGES + [f"/jobs/{loaded.job_id}", "/users", "/account"]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    for path in ["/api/import", "/api/jobs", f"/api/jobs/{loaded.job_id}", "/api/users", "/api/audit",
                 f"/jobs/{loaded.job_id}/rejections.csv"]:
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 401, path
        assert envelope(response)["message_en"] == "Please log in."


def test_roles_are_enforced(app, users, loaded: Loaded) -> None:
    viewer, token = client_as(app, "viewer1")
    for path in ["/api/import", "/api/jobs", "/api/users"]:
        response = viewer.get(path)
        assert response.status_code == 403 and envelope(response)["code"] == "forbidden", path
    assert viewer.get("/import").status_code == 403
    refused = viewer.post("/api/entities/1/merge", json={"merge_ids": [2]}, headers={"X-CSRF-Token": token})
    assert refused.status_code == 403
    staff, _ = client_as(app, "staff1")
    assert staff.get("/import").status_code == 200 and staff.get("/jobs").status_code == 200
    assert staff.get("/api/users").status_code == 403
    admin, _ = client_as(app, "admin")
    assert admin.get("/users").status_code == 200 and admin.get("/api/users").json()["users"][0]["username"] == "admin"


def test_job_pages(app, users, loaded: Loaded) -> None:
    staff, _ = client_as(app, "staff1")
    page = staff.get(f"/jobs/{loaded.job_id}")
    assert page.status_code == 200 and "日期无效：2023-02-30" in page.text and "下载问题记录报告" in page.text
    assert "hx-trigger" not in page.text  # finished: no polling
    english = staff.get(f"/jobs/{loaded.job_id}?lang=en").text
    assert "Invalid date: 2023-02-30" in english
    fragment = staff.get(f"/jobs/{loaded.job_id}/progress")
    assert fragment.headers.get("HX-Refresh") == "true" and 'id="job-progress"' in fragment.text
    report = staff.get(f"/jobs/{loaded.job_id}/rejections.csv")
    assert report.status_code == 200 and report.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["file", "record", "line", "cell", "field", "code", "message_zh", "message_en"]
    assert rows[1][2] == "7" and rows[1][5] == "invalid_date"
    assert staff.get("/api/jobs").json()["items"][0]["id"] == loaded.job_id
    assert staff.get("/api/jobs/999999").status_code == 404


# --- CSRF, errors, headers ----------------------------------------------------------------------

def test_post_without_a_valid_csrf_token_is_refused(client: TestClient, users) -> None:
    form = {"username": "admin", "password": PASSWORDS["admin"], "next": "/"}
    assert client.post("/login", data=form).status_code == 403
    client.get("/login")
    assert client.post("/login", data={**form, "csrf_token": "forged"}).status_code == 403
    token = client.get("/api/session").json()["csrf_token"]
    cross = client.post("/login", data={**form, "csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    ok = client.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    api = client.post("/api/session", json={"username": "admin", "password": "x"})
    assert api.status_code == 403 and envelope(api)["code"] == "csrf"


def test_login_logout_and_open_redirects(client: TestClient, users) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    wrong = client.post("/login", data={"username": "admin", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    ok = client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token,
                                     "next": "//evil.example/x"}, follow_redirects=False)
    assert ok.headers["location"] == "/"
    session = client.get("/api/session").json()
    assert session["user"]["role"] == "admin" and session["csrf_token"] != token  # a fresh session after login
    assert client.post("/logout", data={"csrf_token": session["csrf_token"]}, follow_redirects=False).status_code == 303
    assert client.get("/api/session").json()["user"] is None


def test_login_is_throttled(client: TestClient, users) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    for _ in range(5):
        r = client.post("/api/session", json={"username": "staff1", "password": "wrong-pw"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 401 and envelope(r)["code"] == "login_failed"
    r = client.post("/api/session", json={"username": "staff1", "password": PASSWORDS["staff1"]},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 429 and envelope(r)["code"] == "rate_limited"


def test_error_envelope(app, client: TestClient, loaded: Loaded) -> None:
    missing = client.get("/api/records/patent/999999")
    assert missing.status_code == 404 and envelope(missing)["message_zh"] == "未找到该页面或记录。"
    assert envelope(client.get("/api/records/nope"))["code"] == "unknown_record_type"
    invalid = client.get("/api/records/patent", params={"page_size": 1000})
    assert invalid.status_code == 422
    error = envelope(invalid)
    assert error["code"] == "validation" and error["detail"][0]["loc"] == ["query", "page_size"]
    assert client.get("/api/records/patent", params={"prefecture": "x'; drop"}).status_code == 422
    assert client.get("/api/no-such-route").status_code == 404
    page404 = client.get("/records/patent/999999")
    assert page404.status_code == 404 and "未找到该页面或记录" in page404.text

    @app.get("/api/test-boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        crashed = c.get("/api/test-boom")
    assert crashed.status_code == 500 and envelope(crashed)["code"] == "internal"
    assert "boom" not in crashed.text


def test_security_headers_and_escaping(client: TestClient, loaded: Loaded) -> None:
    response = client.get("/records/patent", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in response.text and "&lt;script&gt;" in response.text
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"] and "frame-ancestors 'none'" in headers[
        "content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert "<script>" not in re.sub(r"<script[^>]*\bsrc=[^>]*></script>|<script type=\"application/json\"", "",
                                    client.get("/").text)  # no inline scripts anywhere


def test_language_switch_is_remembered(client: TestClient, loaded: Loaded) -> None:
    english = client.get("/?lang=en")
    assert "Data overview" in english.text and "Xinjiang IP Public Service Platform" in english.text
    assert "xjip_lang=en" in english.headers["set-cookie"]
    assert "By prefecture" in client.get("/").text
    assert "按地州市统计" in client.get("/?lang=zh").text


def test_docs_and_static_files_are_local(client: TestClient) -> None:
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    spec = client.get("/openapi.json").json()
    assert "/api/records/{record_type}" in spec["paths"] and "/api/overview" in spec["paths"]
    for path in ["/static/vendor/htmx.min.js", "/static/vendor/echarts.min.js",
                 "/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/css/app.css"]:
        assert client.get(path).status_code == 200, path
    assert client.get("/healthz").json()["status"] == "ok"


def test_every_page_has_a_json_twin(app) -> None:
    pages = {r.path for r in app.routes if getattr(r, "methods", None) and "GET" in r.methods
             and not r.path.startswith(("/api", "/static", "/openapi")) and getattr(r, "include_in_schema", True) is False}
    twins = {r.path for r in app.routes if getattr(r, "path", "").startswith("/api/")}
    no_twin_needed = {"/login", "/docs", "/account", "/jobs/{job_id}/progress"}
    for page in pages - no_twin_needed:
        twin = "/api/overview" if page == "/" else "/api" + page
        assert twin in twins, page


# --- templates, uploads -------------------------------------------------------------------------

def test_template_downloads(client: TestClient) -> None:
    listing = client.get("/api/templates").json()
    kinds = [t["kind"] for t in listing["templates"]]
    assert {"trademark", "gi", "copyright", "institution"} <= set(kinds)
    assert "商标" in client.get("/templates").text
    xlsx = client.get("/templates/gi.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    assert any(cell for row in sheet.iter_rows(max_row=3, values_only=True) for cell in row if cell)
    assert client.get("/templates/gi.csv").content.startswith("\ufeff".encode())
    assert client.get("/templates/nope.csv").status_code == 404


def _wait_for(client: TestClient, job_id: int, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["finished"]:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.mark.parametrize("evil", ["../../etc/passwd", "..\\..\\windows\\win.ini", "a\x00b/../../x.csv", "....//", ".."])
def test_upload_names_never_leave_the_upload_folder(app, settings, users, shared_data: Path, evil: str) -> None:
    staff, token = client_as(app, "staff1")
    content = (shared_data / "gi" / "xinjiang_gi_records.csv").read_bytes()
    response = staff.post("/api/import", files={"file": (evil, content, "text/csv")}, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.text
    body = response.json()
    uploads = settings.uploads_dir.resolve()
    saved = [p for p in uploads.rglob("*") if p.is_file()]
    assert len(saved) == 1 and saved[0].parent.parent == uploads and saved[0].name == body["file"]
    assert "\x00" not in body["file"] and "/" not in body["file"] and not body["file"].startswith(".")
    _wait_for(staff, body["job_id"])


def test_sanitize_filename() -> None:
    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert sanitize_filename("C:\\temp\\专利 数据.csv") == "专利 数据.csv"
    assert sanitize_filename("a\x00b.csv") == "ab.csv"
    assert sanitize_filename("..") == "upload" and sanitize_filename("") == "upload"
    assert sanitize_filename("x" * 300 + ".xlsx").endswith(".xlsx") and len(sanitize_filename("x" * 300 + ".xlsx")) <= 120
    assert sanitize_filename("<img src=x onerror=1>.csv") == "_img src_x onerror_1_.csv"


def test_upload_runs_the_import_and_the_gi_records_arrive(app, store, users, shared_data: Path) -> None:
    staff, token = client_as(app, "staff1")
    page = staff.get("/import")
    assert page.status_code == 200 and "上限 100 MB" in page.text
    content = (shared_data / "gi" / "xinjiang_gi_records.csv").read_bytes()
    response = staff.post("/import", files={"file": ("xinjiang_gi_records.csv", content, "text/csv")},
                          data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    job = _wait_for(staff, job_id)
    assert job["status"] == "done", job
    assert job["counts"]["inserted"] == 93 and job["counts"]["rejected"] == 0
    assert staff.get("/api/records/gi", params={"q": "库尔勒香梨"}).json()["total"] == 2  # product + certification mark
    with store.session() as s:
        events = [e.tag for e in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))]
    assert "web:import:upload" in events


def test_upload_over_the_limit_gets_413_in_both_languages(settings, store, shared_data: Path) -> None:
    small = dataclasses.replace(settings, max_upload_mb=1)
    app = create_app(small, store)
    with TestClient(app) as base:
        staff, token = client_as(app, "admin")
        too_big = b"x" * ((1 << 20) + 200_000)
        response = staff.post("/api/import", files={"file": ("big.csv", too_big, "text/csv")},
                              headers={"X-CSRF-Token": token})
        assert response.status_code == 413
        error = envelope(response)
        assert error["message_zh"] == "文件超过上传上限 1 MB，请使用命令行 xjip import"
        assert error["message_en"].startswith("File exceeds the 1 MB upload limit")

        def chunks():  # no Content-Length: refused while streaming
            for _ in range(20):
                yield b"y" * 100_000

        streamed = staff.post("/api/import", content=chunks(), headers={
            "X-CSRF-Token": token, "Content-Type": "multipart/form-data; boundary=xyz"})
        assert streamed.status_code == 413
        page = staff.post("/import", files={"file": ("big.csv", too_big, "text/csv")}, data={"csrf_token": token})
        assert page.status_code == 413 and "文件超过上传上限 1 MB" in page.text
        assert not [p for p in small.uploads_dir.rglob("*") if p.is_file()]
        ok = staff.post("/api/import", files={"file": ("gi.csv", (shared_data / "gi" / "xinjiang_gi_records.csv")
                                                       .read_bytes(), "text/csv")}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 201
        _wait_for(staff, ok.json()["job_id"])
        assert base.get("/healthz").status_code == 200


# --- users and the first admin ------------------------------------------------------------------

def test_admin_manages_users(app, store, users) -> None:
    admin, token = client_as(app, "admin")
    created = admin.post("/api/users", json={"username": "analyst", "password": "analyst-pw-1", "role": "viewer"},
                         headers={"X-CSRF-Token": token})
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    again = admin.post("/api/users", json={"username": "Analyst", "password": "analyst-pw-1", "role": "viewer"},
                       headers={"X-CSRF-Token": token})
    assert again.status_code == 409 and envelope(again)["code"] == "user_exists"
    short = admin.post("/api/users", json={"username": "b", "password": "short", "role": "viewer"},
                       headers={"X-CSRF-Token": token})
    assert short.status_code == 400
    uid = created.json()["id"]
    assert admin.patch(f"/api/users/{uid}", json={"role": "staff"}, headers={"X-CSRF-Token": token}).json()["role"] == "staff"
    me = admin.get("/api/session").json()["user"]["id"]
    last = admin.patch(f"/api/users/{me}", json={"role": "viewer"}, headers={"X-CSRF-Token": token})
    assert last.status_code == 400 and envelope(last)["code"] == "last_admin"
    disabled = admin.patch(f"/api/users/{uid}", json={"active": False}, headers={"X-CSRF-Token": token})
    assert disabled.json()["active"] is False
    other = TestClient(app)
    t2 = other.get("/api/session").json()["csrf_token"]
    assert other.post("/api/session", json={"username": "analyst", "password": "analyst-pw-1"},
                      headers={"X-CSRF-Token": t2}).status_code == 401
    form = admin.post("/users", data={"csrf_token": token, "username": "clerk", "password": "clerk-password",
                                      "role": "staff"}, follow_redirects=True)
    assert "用户 clerk 已创建。" in form.text
    audit = admin.get("/api/audit").json()["events"]
    assert {"web:user:create", "web:user:update", "web:user:login"} <= {e["tag"] for e in audit}


def test_password_hash_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the production cost
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and stored != hash_password("correct horse")  # salted
    assert verify_password("correct horse", stored) and not verify_password("correct horsE", stored)
    assert not verify_password("x", "md5$abc") and not verify_password("x", "garbage")


def test_own_password_change(app, users) -> None:
    viewer, token = client_as(app, "viewer1")
    wrong = viewer.post("/api/account/password", json={"current_password": "nope", "new_password": "new-password-1"},
                        headers={"X-CSRF-Token": token})
    assert wrong.status_code == 400
    ok = viewer.post("/api/account/password", json={"current_password": PASSWORDS["viewer1"],
                                                    "new_password": "new-password-1"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200
    fresh = TestClient(app)
    login(fresh, "viewer1", "new-password-1")


def test_first_admin_password_is_generated_once(settings, store) -> None:
    generated = dataclasses.replace(settings, admin_password="")
    app = create_app(generated, store)
    with TestClient(app):
        password = app.state.generated_admin_password
    path = Path(settings.data_dir) / "admin_password.txt"
    assert password and path.read_text().strip() == password
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = create_app(generated, store)
    with TestClient(again) as c:
        assert again.state.generated_admin_password is None
        login(c, "admin", password)
    with store.session() as s:
        assert s.scalar(select(m.User.role).where(m.User.username == "admin")) == "admin"
    assert os.access(path, os.R_OK)


def test_entity_merge_and_split_for_staff(app, store, users, loaded: Loaded) -> None:
    staff, token = client_as(app, "staff1")
    keep = loaded.entities["Xinjiang Goldwind Science and Technology Co Ltd"]
    other = loaded.entities["Tarim University"]
    page = staff.get(f"/entities/{keep}")
    assert "合并权利人" in page.text and 'name="csrf_token"' in page.text
    assert staff.post(f"/entities/{keep}/merge", data={"merge_ids": str(other)}).status_code == 403  # no token
    merged = staff.post(f"/entities/{keep}/merge", data={"merge_ids": f"{other}", "csrf_token": token},
                        follow_redirects=False)
    assert merged.status_code == 303, merged.text
    detail = staff.get(f"/api/entities/{keep}").json()
    assert {"id": other, "name": "Tarim University"} in detail["merged_entities"]
    assert {a["alias"] for a in detail["aliases"]} == {"Xinjiang Goldwind Science and Technology Co Ltd",
                                                       "Tarim University"}
    assert detail["total_rights"] == 2  # Tarim University's patent now counts here
    again = staff.post(f"/api/entities/{keep}/merge", json={"merge_ids": [other]}, headers={"X-CSRF-Token": token})
    assert again.status_code == 400 and envelope(again)["code"] == "already_merged"
    split = staff.post(f"/api/entities/{keep}/split", json={"aliases": ["Tarim University"],
                                                           "new_name": "Tarim University"},
                       headers={"X-CSRF-Token": token})
    assert split.status_code == 200, split.text
    assert split.json()["new_entity_id"] == other and split.json()["records_repointed"] == 1  # its one patent
    assert staff.get(f"/api/entities/{keep}").json()["total_rights"] == 1
    assert staff.get(f"/api/entities/{other}").json()["total_rights"] == 1
    bad = staff.post(f"/api/entities/{keep}/split", json={"aliases": ["No Such Name"], "new_name": "X"},
                     headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and envelope(bad)["code"] == "alias_not_owned"
    with store.session() as s:
        tags = [e.tag for e in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))]
    assert "web:entity:merge" in tags and "web:entity:split" in tags
