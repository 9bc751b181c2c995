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
