"""Enterprise accounts of special-mark users, on both databases: staff open (or link) the account
from the approved user's page; the enterprise logs in, is told which reports are due, files and
corrects its own report until staff accept it; staff accept or return it with a reason; enterprise
A can neither read nor write enterprise B's report; forms need the CSRF token; everything audited."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.conftest import client_as, login
from xjip.gi import GIError, enterprise, marks
from xjip.hub import models as m

from .test_marks import CODE_A, CODE_B, _approved

GOOD = {"output_tonnes": "1,200.5", "sales_wan_yuan": "850", "marks_used": "30000", "quality_checks": "4",
        "quality_failed": "0", "price_yuan_per_kg": "7.5", "note": "合成数据"}


def _approved_since(store, loaded, year: int, code: str = CODE_A, name: str = "库尔勒梨园合作社（合成）") -> int:  # noqa: ANN001
    """An approved user whose approval is dated in `year`, so that earlier years are due."""
    app_id = _approved(store, loaded, code, name)
    with store.session() as s:
        s.get(m.GIMarkApplication, app_id).decided_at = dt.datetime(year, 5, 1)
    return app_id


def _open_account(client: TestClient, token: str, app_id: int, username: str) -> str:
    """Staff open an account through the page's form; the answer page shows the one-time password."""
    page = client.post(f"/gi/marks/{app_id}/accounts", data={"csrf_token": token, "username": username,
                                                              "display_name": ""})
    assert page.status_code == 200, page.text
    assert page.headers.get("cache-control", "").startswith("no-store")
    return re.search(r'id="new-password">([^<]+)<', page.text).group(1)


def _login_form(client: TestClient, username: str, password: str) -> str:
    token = client.get("/api/session").json()["csrf_token"]
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": password},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_year_states_and_the_report_workflow_in_the_service(store, gi_loaded) -> None:  # noqa: ANN001
    app_id = _approved_since(store, gi_loaded, 2024)
    this_year = m.utcnow().year
    with store.session() as s:
        from xjip.web.auth import create_user

        account = create_user(s, "ent-a", "enterprise-pw-1", "enterprise")
        enterprise.link_account(s, app_id, account, "staff1")
        account_id = account.id
    with store.reading() as s:
        mine = enterprise.my_reports(s, account_id, today=dt.date(this_year, 12, 1))
    years = {y["year"]: y["state"] for y in mine["users"][0]["years"]}
    assert years[this_year] == "open" and years[2024] == "overdue" and min(years) == 2024
    assert mine["due"] == len([y for y in years if y < this_year])
    with store.session() as s:
        marks.send_reminders(s, 2024, "staff1")
    with store.reading() as s:
        reminded = {y["year"]: y["reminders"] for y in enterprise.my_reports(s, account_id)["users"][0]["years"]}
    assert reminded[2024] == 1 and reminded[this_year] == 0  # staff's reminder reaches the enterprise's page
    with store.session() as s:
        first = enterprise.save_my_report(s, account_id, "ent-a", app_id, 2024, GOOD)
    assert first["status"] == "submitted" and first["output_tonnes"] == 1200.5 and first["submitted_by"] == "ent-a"
    with pytest.raises(GIError) as err, store.session() as s:
        marks.decide_report(s, first["id"], False, "staff1", "  ")
    assert err.value.code == "reason_required"
    with store.session() as s:
        returned = marks.decide_report(s, first["id"], False, "staff1", "销售额单位应为万元")
    assert returned["status"] == "returned" and returned["review_reason"] == "销售额单位应为万元"
    with store.reading() as s:
        assert enterprise.my_reports(s, account_id)["users"][0]["years"][-1]["state"] == "returned"
        missing = marks.not_reported(s, 2024)
        assert [r["application_id"] for r in missing["missing"]] == [app_id] and missing["missing"][0]["returned"]
        assert missing["filed"][0]["status"] == "returned"
    with store.session() as s:
        fixed = enterprise.save_my_report(s, account_id, "ent-a", app_id, 2024, {**GOOD, "sales_wan_yuan": "85"})
    assert fixed["status"] == "submitted" and fixed["sales_wan_yuan"] == 85 and fixed["updated_by"] == "ent-a"
    with store.session() as s:
        marks.decide_report(s, first["id"], True, "staff1", None)
    with pytest.raises(GIError) as err, store.session() as s:
        enterprise.save_my_report(s, account_id, "ent-a", app_id, 2024, GOOD)
    assert err.value.code == "report_accepted"
    with pytest.raises(GIError) as err, store.session() as s:
        marks.decide_report(s, first["id"], False, "staff1", "再退回")
    assert err.value.code == "bad_transition"
    with store.reading() as s:
        assert marks.not_reported(s, 2024)["missing"] == []
        tags = [e.tag for e in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))]
    for tag in ("gi:enterprise:link", "gi:mark:report", "gi:mark:report_returned", "gi:mark:report_update",
                "gi:mark:report_accepted"):
        assert tag in tags, tag


def test_bad_figures_are_refused_located_and_the_year_must_be_the_users(store, gi_loaded) -> None:  # noqa: ANN001
    app_id = _approved_since(store, gi_loaded, 2025)
    with store.session() as s:
        from xjip.web.auth import create_user

        account = create_user(s, "ent-a", "enterprise-pw-1", "enterprise")
        enterprise.link_account(s, app_id, account, "staff1")
        account_id = account.id
    for changes, code, field in (({"output_tonnes": "-3"}, "negative", "output_tonnes"),
                                 ({"marks_used": "9" * 12}, "absurd", "marks_used"),
                                 ({"quality_failed": "9"}, "failed_above_checks", "quality_failed"),
                                 ({"sales_wan_yuan": "很多"}, "not_a_number", "sales_wan_yuan")):
        with pytest.raises(GIError) as err, store.session() as s:
            enterprise.save_my_report(s, account_id, "ent-a", app_id, 2025, {**GOOD, **changes})
        assert (err.value.code, err.value.field) == (code, field)
        zh, en = err.value.messages()
        assert field in zh and field in en and zh != en
    with pytest.raises(GIError) as err, store.session() as s:
        enterprise.save_my_report(s, account_id, "ent-a", app_id, 2019, GOOD)
    assert err.value.code == "bad_year"
    with store.reading() as s:
        assert s.scalar(select(m.GIUsageReport.id)) is None  # nothing written by a refused report


def test_staff_open_an_account_and_the_enterprise_files_online(app, client, users, store, gi_loaded) -> None:  # noqa: ANN001
    app_id = _approved_since(store, gi_loaded, 2024)
    token = login(client, "staff1")
    page = client.get(f"/gi/marks/{app_id}")
    assert page.status_code == 200 and 'id="account-create-form"' in page.text
    password = _open_account(client, token, app_id, "kuerle-pear")
    assert "kuerle-pear" in client.get(f"/gi/marks/{app_id}").text
    assert client.get(f"/api/gi/marks/{app_id}").json()["accounts"][0]["username"] == "kuerle-pear"
    taken = client.post(f"/api/gi/marks/{app_id}/accounts", json={"username": "kuerle-pear"}, headers={"X-CSRF-Token": token})
    assert taken.status_code == 409

    ent = TestClient(app)
    assert _login_form(ent, "kuerle-pear", password) == "/gi/my"
    mine = ent.get("/gi/my")
    assert mine.status_code == 200 and "库尔勒梨园合作社" in mine.text
    due = m.utcnow().year - 2024  # 2024 up to last year; this year is not over
    assert f'class="flash error">您有 {due} 份用标年报待填报或待更正' in mine.text  # the reminder on login
    assert 'id="my-due"' in ent.get("/gi/my").text  # and on the page whenever reports are due
    assert ent.get("/api/gi/my").json()["due"] >= 2
    form_token = ent.get("/api/session").json()["csrf_token"]
    bad = ent.post(f"/gi/my/{app_id}/2024", data={**GOOD, "output_tonnes": "-5", "csrf_token": form_token})
    assert bad.status_code == 400 and 'id="report-error"' in bad.text
    assert "output_tonnes" in bad.text and "不能为负数" in bad.text and "cannot be negative" in bad.text
    assert 'value="-5"' in bad.text and 'value="850"' in bad.text  # what was typed is kept
    ok = ent.post(f"/gi/my/{app_id}/2024", data={**GOOD, "csrf_token": form_token}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/gi/my"
    report = ent.get(f"/api/gi/my/{app_id}/2024").json()["report"]
    assert report["status"] == "submitted" and report["submitted_by"] == "kuerle-pear"

    # Staff see who filed, return it with a reason; the enterprise sees the reason and corrects it.
    filed = client.get("/gi/reports", params={"year": 2024})
    assert filed.status_code == 200 and f'id="filed-{report["id"]}"' in filed.text and "kuerle-pear" in filed.text
    no_reason = client.post(f"/gi/reports/{report['id']}/decision", data={"csrf_token": token, "action": "return",
                                                                          "next": "/gi/reports?year=2024"})
    assert no_reason.status_code == 200 and str(no_reason.url).endswith("/gi/reports?year=2024")
    assert "请填写理由" in no_reason.text and f'id="filed-{report["id"]}"' in no_reason.text
    assert client.get(f"/api/gi/my/{app_id}/2024").status_code == 403  # staff are not the enterprise
    back = client.post(f"/gi/reports/{report['id']}/decision", data={"csrf_token": token, "action": "return",
                                                                     "reason": "用标数量与产量不符"},
                       follow_redirects=False)
    assert back.status_code == 303
    returned = ent.get(f"/gi/my/{app_id}/2024")
    assert 'id="return-reason"' in returned.text and "用标数量与产量不符" in returned.text
    again = ent.post(f"/api/gi/my/{app_id}/2024", json={**GOOD, "marks_used": 20000}, headers={"X-CSRF-Token": form_token})
    assert again.status_code == 200 and again.json()["status"] == "submitted" and again.json()["marks_used"] == 20000
    accepted = client.post(f"/api/gi/reports/{report['id']}/decision", json={"action": "accept"},
                           headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    locked = ent.post(f"/api/gi/my/{app_id}/2024", json=GOOD, headers={"X-CSRF-Token": form_token})
    assert locked.status_code == 400 and locked.json()["error"]["code"] == "report_accepted"
    assert "已被受理" in locked.json()["error"]["message_zh"] and "accepted" in locked.json()["error"]["message_en"]
    view = ent.get(f"/gi/my/{app_id}/2024")
    assert 'id="report-locked"' in view.text and 'id="my-report-form"' not in view.text
    for page in (ent.get("/gi/my", params={"lang": "en"}), ent.get(f"/gi/my/{app_id}/2024", params={"lang": "en"}),
                 client.get(f"/gi/marks/{app_id}", params={"lang": "en"}), client.get("/gi/reports", params={"lang": "en"})):
        assert page.status_code == 200 and not re.search(r"\bgi\.(my|report|reports|accounts)\.", page.text), page.url
    assert "My annual usage reports" in ent.get("/gi/my", params={"lang": "en"}).text
    assert client.post(f"/api/gi/reports/{report['id']}/decision", json={"action": "return", "reason": "x"},
                       headers={"X-CSRF-Token": token}).status_code == 400
    assert client.post("/api/gi/reports/99999999/decision", json={"action": "accept"},
                       headers={"X-CSRF-Token": token}).status_code == 404


def test_enterprise_a_cannot_read_or_write_enterprise_bs_report(app, client, users, store, gi_loaded) -> None:  # noqa: ANN001
    app_a = _approved_since(store, gi_loaded, 2024, CODE_A, "库尔勒梨园合作社（合成）")
    app_b = _approved_since(store, gi_loaded, 2024, CODE_B, "库尔勒果业公司（合成）")
    token = login(client, "staff1")
    pw_a = _open_account(client, token, app_a, "ent-a")
    pw_b = _open_account(client, token, app_b, "ent-b")
    b = TestClient(app)
    _login_form(b, "ent-b", pw_b)
    b_token = b.get("/api/session").json()["csrf_token"]
    assert b.post(f"/api/gi/my/{app_b}/2024", json=GOOD, headers={"X-CSRF-Token": b_token}).status_code == 200

    a = TestClient(app)
    _login_form(a, "ent-a", pw_a)
    a_token = a.get("/api/session").json()["csrf_token"]
    assert [u["application_id"] for u in a.get("/api/gi/my").json()["users"]] == [app_a]
    assert "库尔勒果业公司" not in a.get("/gi/my").text
    for path in (f"/gi/my/{app_b}/2024", f"/api/gi/my/{app_b}/2024", f"/gi/my/{app_b}/2025"):
        assert a.get(path).status_code == 404, path
    assert a.post(f"/api/gi/my/{app_b}/2024", json={**GOOD, "output_tonnes": 1},
                  headers={"X-CSRF-Token": a_token}).status_code == 404
    assert a.post(f"/gi/my/{app_b}/2025", data={**GOOD, "csrf_token": a_token}).status_code == 404
    with store.reading() as s:
        reports = [(r.id, r.year, r.output_tonnes, r.submitted_by) for r in s.scalars(
            select(m.GIUsageReport).where(m.GIUsageReport.application_id == app_b))]
    assert [r[1:] for r in reports] == [(2024, 1200.5, "ent-b")]

    # No staff page, no staff API, no other user's data; public pages as the public sees them.
    for path in ("/api/gi/marks/applications", f"/api/gi/marks/{app_b}", "/api/gi/reports", "/api/gi/clues",
                 "/gi/reports/annual.xlsx?year=2024", "/api/users", "/api/search/saved"):
        assert a.get(path).status_code == 403, path
    assert a.post(f"/api/gi/marks/{app_b}/reports", json={"year": 2025, **GOOD},
                  headers={"X-CSRF-Token": a_token}).status_code == 403
    assert a.post(f"/api/gi/reports/{reports[0][0]}/decision", json={"action": "accept"},
                  headers={"X-CSRF-Token": a_token}).status_code == 403
    gi = client.get(f"/api/gi/marks/{app_b}").json()["gi_id"]
    assert client.get(f"/api/gi/{gi}").json()["applications"]  # staff see the applicants
    assert a.get(f"/api/gi/{gi}").json()["applications"] == []  # the enterprise sees what the public sees
    page = a.get("/gi")
    assert page.status_code == 200 and 'href="/gi/my"' in page.text and 'href="/gi/reports"' not in page.text
    assert a.get("/account").status_code == 200  # its own account page (to change the password)

    # Unlinked, the account loses the user's reports at once.
    user_b = client.get(f"/api/gi/marks/{app_b}").json()["accounts"][0]["user_id"]
    assert client.post(f"/api/gi/marks/{app_b}/accounts/{user_b}/unlink", headers={"X-CSRF-Token": token}).status_code == 200
    assert b.get(f"/api/gi/my/{app_b}/2024").status_code == 404 and b.get("/api/gi/my").json()["users"] == []


def test_enterprise_forms_need_the_csrf_token(app, client, users, store, gi_loaded) -> None:  # noqa: ANN001
    app_id = _approved_since(store, gi_loaded, 2024)
    token = login(client, "staff1")
    password = _open_account(client, token, app_id, "ent-a")
    ent = TestClient(app)
    _login_form(ent, "ent-a", password)
    assert ent.post(f"/gi/my/{app_id}/2024", data=GOOD).status_code == 403
    assert ent.post(f"/gi/my/{app_id}/2024", data={**GOOD, "csrf_token": "forged-token-of-enough-length"}).status_code == 403
    assert ent.post(f"/api/gi/my/{app_id}/2024", json=GOOD).status_code == 403
    real = ent.get("/api/session").json()["csrf_token"]
    cross = ent.post(f"/gi/my/{app_id}/2024", data={**GOOD, "csrf_token": real}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.post(f"/gi/marks/{app_id}/accounts", data={"username": "ent-x"}).status_code == 403
    assert client.post(f"/api/gi/marks/{app_id}/accounts/link", json={"username": "ent-a"}).status_code == 403
    with store.reading() as s:
        assert s.scalar(select(m.GIUsageReport.id)) is None
        assert s.scalar(select(m.User.id).where(m.User.username == "ent-x")) is None


def test_linking_only_enterprise_accounts_and_one_account_for_two_users(app, client, users, store, gi_loaded) -> None:  # noqa: ANN001
    app_a = _approved_since(store, gi_loaded, 2024, CODE_A, "库尔勒梨园合作社（合成）")
    app_b = _approved_since(store, gi_loaded, 2025, CODE_B, "库尔勒果业公司（合成）")
    token = login(client, "staff1")
    h = {"X-CSRF-Token": token}
    password = _open_account(client, token, app_a, "coop")
    staff_link = client.post(f"/api/gi/marks/{app_b}/accounts/link", json={"username": "viewer1"}, headers=h)
    assert staff_link.status_code == 400 and staff_link.json()["error"]["code"] == "not_enterprise_account"
    nobody = client.post(f"/api/gi/marks/{app_b}/accounts/link", json={"username": "nobody"}, headers=h)
    assert nobody.status_code == 400 and nobody.json()["error"]["code"] == "no_such_account"
    assert client.post(f"/api/gi/marks/{app_b}/accounts/link", json={"username": "COOP"}, headers=h).status_code == 200
    twice = client.post(f"/api/gi/marks/{app_b}/accounts/link", json={"username": "coop"}, headers=h)
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "already_linked"
    ent = TestClient(app)
    _login_form(ent, "coop", password)
    assert sorted(u["application_id"] for u in ent.get("/api/gi/my").json()["users"]) == sorted([app_a, app_b])
    with store.session() as s:  # a user not (yet) approved gets no account
        pending = marks.submit(s, gi_loaded.gis["库尔勒香梨|PGI_product"], "某合作社（合成）", None, None,
                               "collective_member", [{"name": "章程"}], "staff1")
    refused = client.post(f"/api/gi/marks/{pending['id']}/accounts", json={"username": "early"}, headers=h)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_a_user"
    viewer, _ = client_as(app, "viewer1")
    assert viewer.get("/gi/my").status_code == 403 and viewer.get("/api/gi/my").status_code == 403
    assert TestClient(app).get("/api/gi/my").status_code == 401


def test_an_enterprise_account_keeps_its_kind_on_the_users_page(app, client, users, store, gi_loaded) -> None:  # noqa: ANN001
    app_id = _approved_since(store, gi_loaded, 2025)
    token = login(client, "staff1")
    _open_account(client, token, app_id, "ent-a")
    admin, admin_token = client_as(app, "admin")
    listed = {u["username"]: u for u in admin.get("/api/users").json()["users"]}
    assert listed["ent-a"]["role"] == "enterprise"
    page = admin.get("/users").text
    row = page[page.index("<td>ent-a</td>"):].split("</tr>", 1)[0]
    assert 'value="enterprise"' in row and 'value="viewer"' not in row  # disabling it cannot promote it
    h = {"X-CSRF-Token": admin_token}
    to_viewer = admin.patch(f"/api/users/{listed['ent-a']['id']}", json={"role": "viewer"}, headers=h)
    assert to_viewer.status_code == 400 and to_viewer.json()["error"]["code"] == "enterprise_kind"
    to_enterprise = admin.patch(f"/api/users/{listed['viewer1']['id']}", json={"role": "enterprise"}, headers=h)
    assert to_enterprise.status_code == 400
    off = admin.patch(f"/api/users/{listed['ent-a']['id']}", json={"active": False, "role": "enterprise"}, headers=h)
    assert off.status_code == 200 and off.json()["role"] == "enterprise" and off.json()["active"] is False


def test_a_user_approved_before_the_platform_is_enrolled_and_reports_online(app, client, users, store, gi_loaded) -> None:  # noqa: ANN001
    target = gi_loaded.gis["库尔勒香梨|PGI_product"]
    with store.session() as s:  # as the hub's import of the register writes them
        old = m.GIMarkUser(key="库尔勒香梨|PGI_product|老用户（合成）", gi_id=target, gi_name="库尔勒香梨", user_name="老用户果业（合成）",
                           approved_date=dt.date(2023, 6, 1), announcement_no="第123号", source="test", is_synthetic=True)
        gone = m.GIMarkUser(key="库尔勒香梨|PGI_product|已撤销（合成）", gi_id=target, gi_name="库尔勒香梨", user_name="已撤销果业（合成）",
                            approved_date=dt.date(2020, 1, 1), revoked_date=dt.date(2022, 1, 1), source="test",
                            is_synthetic=True)
        s.add_all([old, gone])
        s.flush()
        old_id, gone_id = old.id, gone.id
    token = login(client, "staff1")
    h = {"X-CSRF-Token": token}
    page = client.get(f"/gi/{target}")
    assert f'action="/gi/marks/users/{old_id}/enrol"' in page.text and f'/gi/marks/users/{gone_id}/enrol' not in page.text
    assert 'class="inline-form enrol-form"' not in TestClient(app).get(f"/gi/{target}").text  # not for the public
    enrolled = client.post(f"/api/gi/marks/users/{old_id}/enrol", json={"user_type": "gi_product_producer"}, headers=h)
    assert enrolled.status_code == 200 and enrolled.json()["status"] == "approved"
    app_id = enrolled.json()["id"]
    assert [e["action"] for e in enrolled.json()["history"]] == ["enrolled"]
    twice = client.post(f"/api/gi/marks/users/{old_id}/enrol", json={"user_type": "gi_product_producer"}, headers=h)
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "already_enrolled"
    revoked = client.post(f"/api/gi/marks/users/{gone_id}/enrol", json={"user_type": "gi_product_producer"}, headers=h)
    assert revoked.status_code == 400 and revoked.json()["error"]["code"] == "not_a_user"
    assert client.post("/api/gi/marks/users/99999999/enrol", json={"user_type": "x"}, headers=h).status_code == 404
    assert f'href="/gi/marks/{app_id}"' in client.get(f"/gi/{target}").text
    assert app_id in [r["application_id"] for r in client.get("/api/gi/reports", params={"year": 2024}).json()[
        "not_reported"]["missing"]]
    shown = client.get(f"/gi/marks/{app_id}")
    assert shown.status_code == 200 and "纳入平台在线报送" in shown.text and 'id="account-create-form"' in shown.text
    password = _open_account(client, token, app_id, "old-user")
    ent = TestClient(app)
    _login_form(ent, "old-user", password)
    years = [y["year"] for y in ent.get("/api/gi/my").json()["users"][0]["years"]]
    assert min(years) == 2023
    ent_token = ent.get("/api/session").json()["csrf_token"]
    assert ent.post(f"/api/gi/my/{app_id}/2023", json=GOOD, headers={"X-CSRF-Token": ent_token}).status_code == 200
