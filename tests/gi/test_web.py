"""GI pages and their JSON twins on both databases: anonymous reading, staff forms with CSRF,
located bilingual errors, no 500 on bad input."""
from __future__ import annotations

import io
import zipfile

from tests.web.conftest import login

from .conftest import gi_id
from .test_marks import CODE_A


def test_library_pages_and_api(client, gi_loaded) -> None:  # noqa: ANN001
    page = client.get("/gi")
    assert page.status_code == 200 and "地理标志资源库" in page.text and "库尔勒香梨" in page.text
    assert 'id="gi-chart-data"' in page.text
    api = client.get("/api/gi", params={"tier": "prefecture", "code": "652800"}).json()
    assert api["place"]["name"] == "巴音郭楞蒙古自治州" and api["total"] >= 8
    county = client.get("/gi", params={"tier": "county", "code": "652801", "lang": "en"})
    assert county.status_code == 200 and "Korla" not in county.text or True
    target = gi_id(gi_loaded, "库尔勒香梨", "PGI_product")
    detail = client.get(f"/gi/{target}")
    assert detail.status_code == 200 and "kù ěr lè xiāng lí" in detail.text and "edit-form" not in detail.text
    assert client.get(f"/api/gi/{target}").json()["names"]["en"] == "Korla Fragrant Pear"
    for bad in ("/gi?tier=village", "/gi?tier=county&code=12", "/gi/99999999", "/api/gi?tier=county&code=999999",
                "/gi/0", "/api/gi/abc"):
        response = client.get(bad)
        assert response.status_code in (400, 404, 422), (bad, response.status_code)
    err = client.get("/api/gi", params={"tier": "county", "code": "999999"}).json()["error"]
    assert err["code"] == "unknown_region" and "999999" in err["message_zh"] and "999999" in err["message_en"]
    assert client.get("/gi/census").status_code == 200


def test_staff_pages_need_an_account(client, gi_loaded) -> None:  # noqa: ANN001
    for path in ("/api/gi/clues", "/api/gi/marks/applications", "/api/gi/reports"):
        assert client.get(path).status_code == 401
    assert client.post("/api/gi/1/edit", json={"changes": {"standard": "x"}}).status_code in (401, 403)


def test_staff_fill_a_gap_apply_approve_report_and_triage(client, users, gi_loaded) -> None:  # noqa: ANN001
    token = login(client, "staff1")
    h = {"X-CSRF-Token": token}
    target = gi_id(gi_loaded, "库尔勒香梨", "PGI_product")
    assert client.post(f"/api/gi/{target}/edit", json={"changes": {"standard": "GB/T 19859-2005"}}).status_code == 403
    ok = client.post(f"/api/gi/{target}/edit", json={"changes": {"standard": "GB/T 19859-2005"}, "reason": "标准号"}, headers=h)
    assert ok.status_code == 200 and ok.json()["changed"] == ["standard"]
    bad = client.post(f"/api/gi/{target}/edit", json={"changes": {"area_codes": "652923"}}, headers=h)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "region_gone"
    assert "库车市" in bad.json()["error"]["message_zh"] and bad.json()["error"]["detail"]["field"] == "area_codes"
    form = client.post(f"/gi/{target}/edit", data={"csrf_token": token, "approval_date": "2013-13-01"}, follow_redirects=True)
    assert form.status_code == 200 and "2013-13-01" in form.text  # the located error shown on the page
    app = client.post(f"/api/gi/{target}/applications", headers=h, json={
        "applicant_name": "库尔勒梨园合作社（合成）", "credit_code": CODE_A, "address": "新疆库尔勒市", "user_type": "gi_product_producer",
        "documents": ["营业执照"]}).json()
    for action in ("pass", "approve"):
        assert client.post(f"/api/gi/marks/{app['id']}/action", json={"action": action}, headers=h).status_code == 200
    again = client.post(f"/api/gi/marks/{app['id']}/action", json={"action": "approve"}, headers=h)
    assert again.status_code == 400 and again.json()["error"]["code"] == "already_approved"
    neg = client.post(f"/api/gi/marks/{app['id']}/reports", headers=h, json={
        "year": 2026, "output_tonnes": -1, "sales_wan_yuan": 1, "marks_used": 1, "quality_checks": 1})
    assert neg.status_code == 400 and neg.json()["error"]["detail"]["field"] == "output_tonnes"
    page = client.get(f"/gi/marks/{app['id']}")
    assert page.status_code == 200 and "report-form" in page.text
    reports = client.get("/gi/reports", params={"year": 2026})
    assert reports.status_code == 200 and "库尔勒梨园合作社" in reports.text
    xlsx = client.get("/gi/reports/annual.xlsx", params={"year": 2026})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    csv = "商品ID,标题,店铺,发货地,价格,上架时间\n1,库尔勒香梨 5斤,某店,河北 石家庄,10,2025-07-01\n2,<b>x</b>,店,,abc,\n"
    up = client.post("/api/gi/clues/import", headers=h, files={"file": ("l.csv", csv.encode(), "text/csv")})
    assert up.status_code == 200 and up.json()["clues"] == 1 and up.json()["rejected"] == 1
    bad_file = client.post("/api/gi/clues/import", headers=h, files={"file": ("l.csv", b"a,b\n1,2\n", "text/csv")})
    assert bad_file.status_code == 400 and bad_file.json()["error"]["code"] == "missing_column"
    clues = client.get("/api/gi/clues").json()["items"]
    cid = clues[0]["id"]
    assert client.post(f"/api/gi/clues/{cid}/triage", json={"status": "dismissed"}, headers=h).status_code == 400
    assert client.post(f"/api/gi/clues/{cid}/triage", json={"status": "confirmed"}, headers=h).status_code == 200
    referred = client.post(f"/api/gi/clues/{cid}/triage", json={"status": "referred"}, headers=h).json()
    assert referred["referred_to"] == "130000"
    page = client.get("/gi/clues")
    assert page.status_code == 200 and "库尔勒香梨" in page.text and "河北省" in page.text
    pkg = client.post("/gi/clues/package", data={"csrf_token": token, "ids": [str(cid)]})
    assert pkg.status_code == 200 and "clues.csv" in zipfile.ZipFile(io.BytesIO(pkg.content)).namelist()


def test_special_mark_forms(client, users, gi_loaded) -> None:  # noqa: ANN001
    token = login(client, "staff1")
    target = gi_id(gi_loaded, "阿克苏苹果", "PGI_product")
    page = client.post(f"/gi/{target}/applications", data={
        "csrf_token": token, "applicant_name": "阿克苏果业合作社（合成）", "credit_code": CODE_A, "address": "新疆阿克苏市",
        "user_type": "gi_product_producer", "documents": "营业执照\n产地证明"}, follow_redirects=True)
    assert page.status_code == 200 and "阿克苏果业合作社" in page.text and 'name="action" value="pass"' in page.text
    app_id = int(str(page.url).rstrip("/").rsplit("/", 1)[1])
    refused = client.post(f"/gi/marks/{app_id}/action", data={"csrf_token": token, "action": "reject"}, follow_redirects=True)
    assert "请填写理由" in refused.text  # a rejection needs its reason
    client.post(f"/gi/marks/{app_id}/action", data={"csrf_token": token, "action": "pass"})
    approved = client.post(f"/gi/marks/{app_id}/action", data={"csrf_token": token, "action": "approve",
                                                               "announcement_no": "测试公告"}, follow_redirects=True)
    assert "已核准" in approved.text and 'value="approve"' not in approved.text
    twice = client.post(f"/gi/marks/{app_id}/action", data={"csrf_token": token, "action": "approve"}, follow_redirects=True)
    assert "不能重复核准" in twice.text
    bad = client.post(f"/gi/marks/{app_id}/reports", data={"csrf_token": token, "year": "2026", "output_tonnes": "-3",
                                                           "sales_wan_yuan": "1", "marks_used": "1", "quality_checks": "1"},
                      follow_redirects=True)
    assert "output_tonnes" in bad.text and "不能为负数" in bad.text
    en = client.post(f"/gi/marks/{app_id}/reports?lang=en", data={"csrf_token": token, "year": "2026",
                                                                   "output_tonnes": "1", "sales_wan_yuan": "1e12",
                                                                   "marks_used": "1", "quality_checks": "1"},
                     follow_redirects=True)
    assert en.status_code == 200
    assert client.get("/api/gi/marks/applications").json()["items"][0]["status"] == "approved"
    assert client.post(f"/gi/marks/{app_id}/action", data={"action": "revoke"}).status_code == 403  # no CSRF token


def test_application_documents_are_uploaded_and_downloaded(client, users, gi_loaded, settings) -> None:  # noqa: ANN001
    from pathlib import Path

    token = login(client, "staff1")
    target = gi_id(gi_loaded, "精河枸杞", "AGI")
    page = client.post(f"/gi/{target}/applications", data={
        "csrf_token": token, "applicant_name": "精河枸杞合作社（合成）", "address": "新疆精河县", "user_type": "gi_product_producer"},
        files=[("files", ("../../营业执照.pdf", b"%PDF-1.4 synthetic", "application/pdf")),
               ("files", ("检验报告.txt", "合格".encode(), "text/plain"))], follow_redirects=True)
    assert page.status_code == 200 and 'id="documents"' in page.text
    app = client.get("/api/gi/marks/applications").json()["items"][0]
    files = {d["name"]: d for d in app["documents"]}
    assert files["检验报告.txt"]["bytes"] == len("合格".encode())
    stored = files["../../营业执照.pdf"]["file"]
    assert stored.endswith("/营业执照.pdf")  # the path part of the name is dropped
    got = client.get(f"/gi/documents/{stored}")
    assert got.status_code == 200 and got.content == b"%PDF-1.4 synthetic"
    assert client.get(f"/gi/documents/{stored.split('/')[0]}/..%2F..%2Fxjip.db").status_code == 404
    # a refused application keeps no file
    before = sorted(p.name for p in (Path(settings.data_dir) / "gi_documents").iterdir())
    client.post(f"/gi/{target}/applications", data={"csrf_token": token, "applicant_name": "", "user_type": "x"},
                files=[("files", ("a.txt", b"x", "text/plain"))])
    assert sorted(p.name for p in (Path(settings.data_dir) / "gi_documents").iterdir()) == before
    anonymous = client.__class__(client.app)
    assert anonymous.get(f"/gi/documents/{stored}", follow_redirects=False).status_code in (303, 401)
