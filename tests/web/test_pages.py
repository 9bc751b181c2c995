"""Read-only pages and their JSON twins on the shared loaded databases (SQLite and PostgreSQL):
drill-down, pagination tokens, masking, roles, CSRF, the error envelope, headers, language."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Iterator

import openpyxl
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from xjip.hub import models as m
from xjip.hub import queries
from xjip.i18n import catalogue
from xjip.web.auth import hash_password, verify_password
from xjip.web.errors import STATUS_CODES
from xjip.web.uploads import sanitize_filename

from .conftest import PASSWORDS, ReadOnly, client_as

PUBLIC_PAGES = ["/", "/regions", "/entities", "/templates", "/docs", "/login", "/records/patent", "/records/gi",
                "/records/trademark", "/records/institution"]
STAFF_PAGES = ["/import", "/jobs", "/search/index"]


def envelope(response) -> dict:  # noqa: ANN001
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message_zh", "message_en", "detail"}, body
    return body["error"]


# --- public pages and JSON twins ----------------------------------------------------------------

def test_public_pages_render_in_chinese(ro: ReadOnly) -> None:
    client = ro.client
    for path in PUBLIC_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "新疆知识产权公共服务平台" in response.text, path
    overview = client.get("/").text
    assert "阿克苏地区" in overview and "按地州市统计" in overview and "数据质量" in overview
    assert 'href="/records/gi?prefecture=652900">14</a>' in overview  # drill-down link with the real count


def test_overview_json_twin_is_the_query_result(ro: ReadOnly) -> None:
    client, store = ro.client, ro.store
    api = client.get("/api/overview").json()
    with store.session() as s:
        direct = queries.overview(s)
    assert api["total"] == direct["total"] == 152
    assert api["by_prefecture"] == direct["by_prefecture"]
    assert [t["total"] for t in api["by_type"]] == [t["total"] for t in direct["by_type"]]


def test_drill_down_from_overview_to_list_to_detail(ro: ReadOnly) -> None:
    client = ro.client
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


def test_list_pages_with_opaque_tokens(ro: ReadOnly) -> None:
    client = ro.client
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


def test_filters_on_pages(ro: ReadOnly) -> None:
    client = ro.client
    assert client.get("/api/records/patent", params={"year": "2021"}).json()["total"] == 8
    assert client.get("/api/records/patent", params={"patent_type": "invention", "status": "pending"}).json()["total"] == 2
    assert client.get("/api/records/patent", params={"q": "无人机", "year": ""}).json()["total"] == 5
    html = client.get("/records/patent", params={"prefecture": "other"}).text
    assert "共 10 条" in html and "一种无人机机载多功能盒" in html


def test_regions_and_entities(ro: ReadOnly) -> None:
    client, loaded = ro.client, ro.loaded
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

def test_public_views_mask_personal_data_and_accounts_see_it(ro: ReadOnly) -> None:
    app, client, loaded = ro.app, ro.client, ro.loaded
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

def test_staff_pages_need_a_login(ro: ReadOnly) -> None:
    client, loaded = ro.client, ro.loaded
    for path in STAFF_PAGES + [f"/jobs/{loaded.job_id}", "/users", "/account"]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    for path in ["/api/import", "/api/jobs", f"/api/jobs/{loaded.job_id}", "/api/users", "/api/audit",
                 f"/jobs/{loaded.job_id}/rejections.csv"]:
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 401, path
        assert envelope(response)["message_en"] == "Please log in."


def test_roles_are_enforced(ro: ReadOnly) -> None:
    app = ro.app
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


def test_job_pages(ro: ReadOnly) -> None:
    app, loaded = ro.app, ro.loaded
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

def test_post_without_a_valid_csrf_token_is_refused(ro: ReadOnly) -> None:
    client = TestClient(ro.app)
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


def test_login_logout_and_open_redirects(ro: ReadOnly) -> None:
    client = TestClient(ro.app)
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


def test_login_is_throttled(client: TestClient, users: dict[str, str]) -> None:
    # its own database: the failures are kept there (xjip.web.sessions), not in the shared `ro` one
    token = client.get("/api/session").json()["csrf_token"]
    for _ in range(5):
        r = client.post("/api/session", json={"username": "staff1", "password": "wrong-pw"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 401 and envelope(r)["code"] == "login_failed"
    r = client.post("/api/session", json={"username": "staff1", "password": PASSWORDS["staff1"]},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 429 and envelope(r)["code"] == "rate_limited"


def test_error_envelope(ro: ReadOnly) -> None:
    app, client = ro.app, ro.client
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

    if not any(getattr(r, "path", "") == "/api/test-boom" for r in app.routes):
        @app.get("/api/test-boom")
        def boom() -> None:
            raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        crashed = c.get("/api/test-boom")
    assert crashed.status_code == 500 and envelope(crashed)["code"] == "internal"
    assert "boom" not in crashed.text


def test_security_headers_and_escaping(ro: ReadOnly) -> None:
    client = ro.client
    response = client.get("/records/patent", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in response.text and "&lt;script&gt;" in response.text
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"] and "frame-ancestors 'none'" in headers[
        "content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert "<script>" not in re.sub(r"<script[^>]*\bsrc=[^>]*></script>|<script type=\"application/json\"", "",
                                    client.get("/").text)  # no inline scripts anywhere


def test_language_switch_is_remembered(ro: ReadOnly) -> None:
    client = TestClient(ro.app)
    english = client.get("/?lang=en")
    assert "Data overview" in english.text and "Xinjiang IP Public Service Platform" in english.text
    assert "xjip_lang=en" in english.headers["set-cookie"]
    assert "By prefecture" in client.get("/").text
    assert "按地州市统计" in client.get("/?lang=zh").text


def test_docs_and_static_files_are_local(ro: ReadOnly) -> None:
    client = ro.client
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    spec = client.get("/openapi.json").json()
    assert "/api/records/{record_type}" in spec["paths"] and "/api/overview" in spec["paths"]
    for path in ["/static/vendor/htmx.min.js", "/static/vendor/echarts.min.js",
                 "/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/css/app.css"]:
        assert client.get(path).status_code == 200, path
    assert client.get("/healthz").json()["status"] == "ok"


def test_every_page_has_a_json_twin(ro: ReadOnly) -> None:
    app = ro.app
    pages = {r.path for r in app.routes if getattr(r, "methods", None) and "GET" in r.methods
             and not r.path.startswith(("/api", "/static", "/openapi")) and getattr(r, "include_in_schema", True) is False}
    twins = {r.path for r in app.routes if getattr(r, "path", "").startswith("/api/")}
    no_twin_needed = {"/login", "/docs", "/account", "/jobs/{job_id}/progress"}
    for page in pages - no_twin_needed:
        twin = "/api/overview" if page == "/" else "/api" + page
        assert twin in twins, page


# --- templates, uploads -------------------------------------------------------------------------

def test_template_downloads(ro: ReadOnly) -> None:
    client = ro.client
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


def test_sanitize_filename() -> None:
    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert sanitize_filename("C:\\temp\\专利 数据.csv") == "专利 数据.csv"
    assert sanitize_filename("a\x00b.csv") == "ab.csv"
    assert sanitize_filename("..") == "upload" and sanitize_filename("") == "upload"
    assert sanitize_filename("x" * 300 + ".xlsx").endswith(".xlsx") and len(sanitize_filename("x" * 300 + ".xlsx")) <= 120
    assert sanitize_filename("<img src=x onerror=1>.csv") == "_img src_x onerror_1_.csv"


def test_password_hash_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the production cost
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and stored != hash_password("correct horse")  # salted
    assert verify_password("correct horse", stored) and not verify_password("correct horsE", stored)
    assert not verify_password("x", "md5$abc") and not verify_password("x", "garbage")




# --- documentation and catalogue coverage -------------------------------------------------------

WEB_DIR = Path(__file__).resolve().parents[2] / "xjip" / "web"


def _paths(routes: list, prefix: str = "") -> Iterator[str]:  # noqa: ANN001
    """Every path with methods, however FastAPI keeps included routers (0.165 wraps them, so that
    `app.routes` alone held 1 of the app's routes and this test checked almost nothing)."""
    for r in routes:
        contexts = getattr(r, "effective_route_contexts", None)
        if contexts is not None:
            yield from (prefix + c.path for c in contexts() if getattr(c.original_route, "methods", None))
        elif getattr(r, "methods", None):
            yield prefix + r.path
        elif getattr(r, "routes", None) and not isinstance(r, Mount):
            yield from _paths(r.routes, prefix + getattr(r, "path", ""))


def test_every_route_is_documented(ro: ReadOnly) -> None:
    readme = (WEB_DIR / "README.md").read_text(encoding="utf-8")
    paths = sorted(set(_paths(ro.app.routes)))
    assert len(paths) > 100 and "/records/{record_type}/{record_id}" in paths  # the walk reaches the routers
    undocumented = [p for p in paths if p != "/api/test-boom" and f"`{p}`" not in readme and f"{p}`" not in readme]
    assert undocumented == []


def test_every_code_a_template_accepts_has_a_label_in_both_languages() -> None:
    """Enumerated values are stored as codes (`licence_type` = ordinary); pages show their labels
    (`_macros.cell`): a code without one would show as the bare code."""
    from xjip.hub.importers.templates import SPECS

    shown_as_kind = {"kind", "right_type", "gi_system", "mark_kind", "patent_type"}  # web.kind.* (_macros.cell)
    zh, en = catalogue("zh"), catalogue("en")
    missing = [f"web.{'kind' if c.field in shown_as_kind else c.field}.{choice.value}"
               for spec in SPECS.values() for c in spec.columns if c.type == "enum" for choice in c.choices]
    assert [k for k in missing if k not in zh or k not in en] == []
    macros = (WEB_DIR / "templates" / "_macros.html").read_text(encoding="utf-8")
    labelled = {c.field for spec in SPECS.values() for c in spec.columns if c.type == "enum"} - shown_as_kind
    assert all(f"'{field}'" in macros for field in labelled), labelled


def test_catalogue_covers_the_web_in_both_languages() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    web_zh = {k for k in zh if k.startswith("web.")}
    assert web_zh == {k for k in en if k.startswith("web.")}
    used = set()
    for template in (WEB_DIR / "templates").glob("*.html"):
        used |= set(re.findall(r"_\('(web\.[a-z_.]+[a-z_])'(?!\s*~)", template.read_text(encoding="utf-8")))
    for source in list((WEB_DIR / "routes").glob("*.py")) + [WEB_DIR / "commands.py", WEB_DIR / "errors.py"]:
        used |= set(re.findall(r'"(web\.[a-z_]+\.[a-z_.]+)"', source.read_text(encoding="utf-8")))
    assert sorted(used - web_zh) == []
    columns = {c.key for model in list(m.RIGHT_MODELS.values()) + [m.PatentParty, m.PatentEvent, m.PatentFamilyMember]
               for c in model.__table__.columns}
    assert sorted(c for c in columns if f"web.field.{c}" not in web_zh) == []
    for record_type in queries.TYPES:
        assert f"web.type.{record_type}" in web_zh
    for code in STATUS_CODES.values():
        assert f"web.error.{code}" in web_zh
