"""At 1,366 px and 1,440 px (the screens of the offices) the overview and the jobs list fit: no
horizontal scroll of the page, and no panel or table clipped inside its box (issue 10 §4, found by
looking at those widths). The English overview names places in English, charts included. In
Debian's chromium, on the real GI list plus synthetic records of every kind, on both databases."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xjip.hub.pipeline import run_import

from .conftest import PASSWORDS
from .test_browser import CHROMIUM, Watch, _shot, browser, server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium")]

WIDTHS = (1366, 1440)
OVERFLOW = """() => [...document.querySelectorAll('html, main, .panel, .table-wrap, .cards, .grid-2')]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.tagName.toLowerCase()}#${e.id}.${e.className}/${e.firstElementChild && e.firstElementChild.id}: `
            + `${e.scrollWidth} > ${e.clientWidth}`)"""


@pytest.fixture
def filled(store, users, shared_data: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """The real GI list, synthetic patents and other rights (from real vocabularies, marked
    synthetic), a re-import (all unchanged) and a failed job with a long file name."""
    from xjip.hub import synth
    from xjip.hub.synth_rights import write_rights

    gi = shared_data / "gi" / "xinjiang_gi_records.csv"
    run_import(store, gi)
    synth.write_cn_biblio_csv(tmp_path / "patents.csv", 300, seed=5, shared=shared_data)
    write_rights(tmp_path / "rights", 30, seed=3, patents=300, patent_seed=5, shared=shared_data)
    run_import(store, tmp_path / "patents.csv")  # the synthetic column marks every row
    run_import(store, tmp_path / "rights")
    run_import(store, gi)  # read again: 93 unchanged
    junk = tmp_path / ("一个很长很长的文件名_" * 6 + "xinjiang_patent_export_2024_final_version_2.bin")
    junk.write_bytes(b"\x00\x01 not a format")
    run_import(store, junk)


def _fits(page, url: str) -> list[str]:  # noqa: ANN001
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page.evaluate(OVERFLOW)


def test_the_overview_and_the_jobs_list_fit_at_office_widths(server: str, browser, filled, tmp_path: Path) -> None:  # noqa: ANN001, F811
    for width in WIDTHS:
        for lang in ("zh", "en"):
            page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN" if lang == "zh" else "en-US")
            watch = Watch(page)
            assert _fits(page, f"{server}/?lang={lang}") == [], (width, lang)
            page.wait_for_selector("#chart-prefecture canvas")
            _shot(page, tmp_path, f"overview_{lang}_{width}")
            page.goto(f"{server}/login?next=/jobs")
            page.fill('input[name="username"]', "staff1")
            page.fill('input[name="password"]', PASSWORDS["staff1"])
            page.click('form button[type="submit"]')
            page.wait_for_url("**/jobs")
            assert _fits(page, f"{server}/jobs?lang={lang}") == [], (width, lang)
            assert page.locator("#jobs tbody tr").count() == 5
            _shot(page, tmp_path, f"jobs_{lang}_{width}")
            assert not [e for e in watch.errors if "404" not in e], watch.errors
            page.close()


def test_the_english_overview_names_places_in_english(server: str, browser, filled) -> None:  # noqa: ANN001, F811
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-US")
    page.goto(f"{server}/?lang=en")
    chart = json.loads(page.evaluate("document.getElementById('chart-data').textContent"))
    cjk = re.compile(r"[\u4e00-\u9fff]")
    labels = chart["prefecture"]["labels"]
    assert labels and not [x for x in labels if cjk.search(x)], labels
    assert not [s["name"] for s in chart["prefecture"]["series"] + chart["year"]["series"] if cjk.search(s["name"])]
    assert {"Urumqi", "Altay Prefecture", "8th Division / Shihezi"} <= set(labels)
    places = page.locator("#by-prefecture tbody th").all_inner_texts()
    assert not [p for p in places if cjk.search(p)], places
    assert not [p for p in places if re.search(r"\b(Shi|Diqu|Zizhizhou)\b", p)], places  # no pinyin
    assert any(p.startswith("8th Division / Shihezi") for p in places)
    page.goto(f"{server}/regions?lang=en")
    tree = page.locator("#region-tree tbody th").all_inner_texts()
    assert not [p for p in tree if cjk.search(p)], [p for p in tree if cjk.search(p)][:5]


def test_a_patent_page_fits_and_numbers_each_claim_once(server: str, browser, store, shared_data: Path) -> None:  # noqa: ANN001, F811
    """The CNIPA full-text XML patents carry claims that begin with their own number ("1.一种…"):
    the page shows that number once (no list numbering on top), and fits at both widths."""
    from sqlalchemy import select

    from xjip.hub import models as m

    run_import(store, shared_data / "patents" / "cn_cnipa_xml" / "xml")
    with store.session() as s:
        patent_id = s.scalars(select(m.PatentText.patent_id).order_by(m.PatentText.patent_id)).first()
    assert patent_id
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
        assert _fits(page, f"{server}/records/patent/{patent_id}?lang=zh") == [], width
        first = page.locator("#claims li").first
        assert first.evaluate("li => getComputedStyle(li).listStyleType") == "none"
        shown = first.inner_text()
        assert re.match(r"^1\s*[.．、]", shown) and not re.match(r"^1\s*[.．、]\s*1\s*[.．、]", shown), shown[:20]
        assert page.locator("#section-biblio").is_visible() and page.locator("#parties th").all_inner_texts()[1] != "#"
        page.close()
