"""The "AI+" pages in Debian's chromium: a sentence finds patents, the patent page loads its
similar-patents panel through htmx, the type filter keeps GIs only and a GI's page loads its
similar GIs, the classifier answers a pasted abstract. No request leaves 127.0.0.1 and the
console stays clean (CSP)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xjip.search.classify import model_path, train
from xjip.search.semantic import embed

from .conftest import Loaded
from .test_browser import Watch, _shot, browser, server  # noqa: F401 - fixtures

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser]
LABELLED = "patents/cn_ipc_classification/lxingy3_chinese-patent-ipc-classifier/title_ipc_subclasses.jsonl.gz"


def test_semantic_similar_and_classify(server: str, browser, store, settings, loaded: Loaded, shared_data: Path,  # noqa: ANN001, F811
                                       tmp_path: Path) -> None:
    if not (shared_data / LABELLED).is_file():
        pytest.skip("labelled records not present")
    embed.enqueue_missing(store, "e5", ["patent"])
    # three GIs beside the patents (all 93 would add ~20 s and check nothing more)
    gis = [i for k, i in loaded.gis.items() if k.split("|")[0] in ("库尔勒香梨", "玛纳斯碧玉", "伊犁薰衣草精油")]
    embed.enqueue(store, gis, ["e5"], "gi")
    embed.run(store, "e5", batch=64)
    train(settings.data_dir, shared_data, evaluate_first=False, sample=800)
    assert model_path(settings.data_dir).is_file()

    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    watch = Watch(page)
    page.goto(server + "/semantic")
    assert page.locator("h1").inner_text() == "语义检索"
    page.fill("#semantic-q", "农业种植技术")
    page.click('#semantic-form button[type="submit"]')
    page.wait_for_selector("#semantic-results tbody tr")
    assert page.locator("#semantic-results tbody tr").count() > 0
    _shot(page, tmp_path, "semantic_zh")

    page.locator("#semantic-results tbody a").first.click()
    page.wait_for_url("**/records/patent/*")
    page.wait_for_selector("#similar-panel #similar-table tbody tr")  # htmx loaded the fragment
    assert page.locator("#similar-table tbody tr").count() > 0
    _shot(page, tmp_path, "patent_similar_zh")

    # the type filter: a described product finds GIs only, the GI's page loads its similar GIs
    page.goto(server + "/semantic")
    page.fill("#semantic-q", "一种芳香的植物提取物")
    page.select_option("#semantic-type", "gi")
    page.click('#semantic-form button[type="submit"]')
    page.wait_for_selector("#semantic-results tbody tr")
    rows = page.locator("#semantic-results tbody tr")
    assert rows.count() == len(gis)
    assert {rows.nth(i).get_attribute("data-type") for i in range(rows.count())} == {"gi"}
    assert "地理标志" in rows.first.inner_text() and "伊犁薰衣草精油" in rows.first.inner_text()
    assert page.locator("#semantic-type").input_value() == "gi"
    _shot(page, tmp_path, "semantic_gi_zh")
    rows.first.locator("a").first.click()
    page.wait_for_url("**/records/gi/*")
    page.wait_for_selector("#similar-panel #similar-table tbody tr")
    assert page.locator("#similar-panel h2").inner_text() == "相似地理标志"

    page.goto(server + "/classify")
    page.fill("#classify-text", "一种棉花采摘机，包括机架、采摘头和输送装置，采摘头设有旋转的摘锭")
    page.click("#classify-submit")
    page.wait_for_selector("#classify-subclasses tbody tr")
    assert page.locator("#classify-subclasses tbody tr").count() == 5
    _shot(page, tmp_path, "classify_zh")
    page.fill("#classify-text", "")
    page.click("#classify-submit")
    page.wait_for_selector("#classify-error")
    assert "请输入要分类的文本" in page.inner_text("#classify-error")
    watch.errors = [e for e in watch.errors if "400" not in e]  # the refused empty text is the point
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors
