"""GI pages in a real browser (Debian chromium through Playwright, the pattern of
tests/web/test_browser.py): the library's tiers and charts, a staff member filling a gap, a
listings file turned into clues and triaged. Screenshots: XJIP_SCREENSHOTS=<dir> keeps copies."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.test_browser import ARGS, CHROMIUM, Watch, _shot, browser, server  # noqa: F401
from tests.web.conftest import PASSWORDS

from .conftest import gi_id

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser]


def test_library_gap_fill_and_clues(server: str, browser, store, gi_loaded, tmp_path: Path) -> None:  # noqa: ANN001,F811
    from xjip.web.auth import create_user

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    watch = Watch(page)
    page.goto(server + "/gi")
    assert page.locator("h1").inner_text().startswith("地理标志资源库")
    page.wait_for_selector("#gi-chart-prefecture canvas")
    page.wait_for_selector("#gi-chart-category canvas")
    assert page.locator("#gi-list tbody tr").count() == 93
    _shot(page, tmp_path, "gi_library_zh")
    page.click('#by-prefecture a[href="/gi?tier=prefecture&code=652800"]')
    page.wait_for_url("**tier=prefecture&code=652800")
    page.click('#children a:text-is("库尔勒市")')
    page.wait_for_url("**tier=county&code=652801")
    assert page.locator('#gi-list a:text-is("库尔勒香梨")').count() >= 1
    assert page.locator("#prefecture-wide").count() == 1

    target = gi_id(gi_loaded, "莎车巴旦姆", "PGI_product")
    page.goto(server + f"/gi/{target}")
    assert page.locator("#gap-announcement_no").count() == 1
    page.goto(server + f"/login?next=/gi/{target}")
    page.fill('input[name="username"]', "staff1")
    page.fill('input[name="password"]', PASSWORDS["staff1"])
    page.click('form button[type="submit"]')
    page.wait_for_url(f"**/gi/{target}")
    page.fill('#edit-form input[name="announcement_no"]', "质检总局公告（测试补录）")
    page.fill('#edit-form input[name="reason"]', "核对原公告")
    page.click('#edit-form button[type="submit"]')
    page.wait_for_selector(".flash.ok")
    assert page.locator("#gap-announcement_no").count() == 0
    assert "核对原公告" in page.inner_text("#history")
    page.fill('#edit-form input[name="approval_date"]', "2011-02-30")
    page.click('#edit-form button[type="submit"]')
    page.wait_for_selector(".flash.error")
    assert "2011-02-30" in page.inner_text(".flash.error")
    _shot(page, tmp_path, "gi_detail_staff")

    listings = tmp_path / "listings.csv"
    listings.write_text("商品ID,商品标题,店铺名称,发货地,价格,上架时间\n"
                        "1,库尔勒香梨 新鲜 5斤,某果行,河北 石家庄,39.9,2025-09-01\n"
                        "2,库尔勒香梨 新鲜 5斤,梨园合作社,新疆库尔勒市,49.9,2025-09-01\n"
                        "3,<b>庫爾勒香梨</b> 🍐,台湾小铺,广东 深圳,88,2025-09-01\n"
                        "3,重复,台湾小铺,广东 深圳,88,2025-09-01\n", encoding="utf-8")
    page.goto(server + "/gi/clues")
    page.set_input_files('#import-form input[name="file"]', str(listings))
    page.click('#import-form button[type="submit"]')
    page.wait_for_selector("#last-import")
    assert page.locator("#clues tbody tr").count() == 2
    assert "第4条记录" in page.inner_text("#last-import")
    page.select_option("#triage form >> nth=0 >> select", "confirmed")
    page.locator("#triage form").first.locator("button").click()
    page.wait_for_selector(".flash.ok")
    _shot(page, tmp_path, "gi_clues")
    page.goto(server + "/gi/reports")
    assert page.locator("#coverage table tbody tr").count() >= 2
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not [e for e in watch.errors if "/favicon" not in e], watch.errors


def test_an_enterprise_files_its_report_and_staff_return_it(server: str, browser, store, gi_loaded,  # noqa: ANN001,F811
                                                          tmp_path: Path) -> None:
    """Staff open the account on the user's page; the enterprise logs in with the password shown
    once, lands on its reports told what is due, files a year (a negative figure refused on the
    form, then corrected); staff return it with a reason; the enterprise sees the reason."""
    import datetime as dt

    from xjip.hub import models as m
    from xjip.web.auth import create_user

    from .test_marks import _approved

    app_id = _approved(store, gi_loaded)
    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
        s.get(m.GIMarkApplication, app_id).decided_at = dt.datetime(2024, 5, 1)
    staff = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    watch = Watch(staff)
    staff.goto(server + f"/login?next=/gi/marks/{app_id}")
    staff.fill('input[name="username"]', "staff1")
    staff.fill('input[name="password"]', PASSWORDS["staff1"])
    staff.click('form button[type="submit"] >> nth=-1')
    staff.wait_for_selector("#account-create-form")
    staff.fill('#account-create-form input[name="username"]', "kuerle-pear")
    staff.click("#account-create-form button")
    password = staff.inner_text("#new-password").strip()
    _shot(staff, tmp_path, "gi_account_created")

    ent = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    ent_watch = Watch(ent)
    ent.goto(server + "/login")
    ent.fill('input[name="username"]', "kuerle-pear")
    ent.fill('input[name="password"]', password)
    ent.click('form button[type="submit"] >> nth=-1')
    ent.wait_for_url("**/gi/my")
    assert "待填报或待更正" in ent.inner_text(".flash.error")
    _shot(ent, tmp_path, "gi_my")
    ent.click(f'a[href="/gi/my/{app_id}/2024"]')
    for name, value in (("output_tonnes", "-5"), ("sales_wan_yuan", "850"), ("marks_used", "30000"), ("quality_checks", "4")):
        ent.fill(f'#my-report-form input[name="{name}"]', value)
    ent.click("#my-report-form button")
    assert "不能为负数" in ent.inner_text("#report-error") and "cannot be negative" in ent.inner_text("#report-error")
    ent.fill('#my-report-form input[name="output_tonnes"]', "1200")
    ent.click("#my-report-form button")
    ent.wait_for_url("**/gi/my")
    assert "已提交，待受理" in ent.inner_text(f"#year-{app_id}-2024")

    staff.goto(server + "/gi/reports?year=2024")
    staff.fill('#filed input[name="reason"]', "用标数量与产量不符")
    staff.click('#filed form:has(input[name="reason"]) button')
    staff.wait_for_selector(".flash.ok")
    _shot(staff, tmp_path, "gi_reports_filed")
    ent.reload()
    assert "用标数量与产量不符" in ent.inner_text(f"#year-{app_id}-2024")
    staff.goto(server + f"/gi/marks/{app_id}")
    assert "kuerle-pear" in staff.inner_text("#account-list")
    _shot(staff, tmp_path, "gi_mark_accounts")
    assert not [e for e in watch.errors if "/favicon" not in e], watch.errors
    refused = f"400 {server}/gi/my/{app_id}/2024"  # the refused negative figure, answered 400 on purpose
    assert not [e for e in ent_watch.errors if "/favicon" not in e and e != refused and "status of 400" not in e], \
        ent_watch.errors
