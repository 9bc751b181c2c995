"""One application, one record, as a person sees it: the patent page (and its JSON twin) lists
every publication with the first one and the grant named, and the rows that disagreed; the job
page counts the merged rows and lists the conflicts. In a real browser too."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub.pipeline import run_import

from .conftest import client_as
from .test_browser import CHROMIUM, Watch, _shot, browser, server  # noqa: F401 - fixtures

LYFT = "patents/real_exports/cn_export/ptics_global_LYFT.csv"


def _import_two_applications(store, shared_data: Path, tmp_path: Path) -> tuple[int, int, int]:  # noqa: ANN001
    """US15/858284 (A and B rows, titles that differ: a recorded conflict) and US16/911133 (A
    and B rows that agree): (job id, id of the first patent, id of the second)."""
    with open(shared_data / LYFT, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    mine = [rows[0]] + [r for r in rows[1:] if r[1] in ("US15/858284", "US16/911133")]
    path = tmp_path / "lyft_two.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(mine)
    job = run_import(store, path)
    assert (job.inserted_count, job.merged_count, job.rejected_count) == (2, 2, 0)
    with store.session() as s:
        ids = dict(s.execute(select(m.Patent.key, m.Patent.id)).all())
    return job.id, ids["US15858284"], ids["US16911133"]


def test_the_record_page_lists_publications_and_conflicts(app, client, store, users, shared_data, tmp_path):  # noqa: ANN001
    job_id, conflicted, agreed = _import_two_applications(store, shared_data, tmp_path)
    page = client.get(f"/records/patent/{agreed}")
    assert page.status_code == 200
    html = page.text
    assert 'id="publications"' in html and "US20200327522A1" in html and "US11544688B2" in html
    assert "首次公开" in html and "授权公告" in html and 'id="conflicts"' not in html
    twin = client.get(f"/api/records/patent/{agreed}").json()
    pubs = {p["number"]: p for p in twin["related"]["publications"]}
    assert set(pubs) == {"US20200327522A1", "US11544688B2"} and pubs["US11544688B2"]["is_grant"] is True
    assert (twin["fields"]["pub_number"], twin["fields"]["grant_number"]) == ("US20200327522A1", "US11544688B2")
    assert twin["related"]["conflicts"] == []

    page = client.get(f"/records/patent/{conflicted}", headers={"Accept-Language": "en"}).text
    assert 'id="conflicts"' in page and "Gated Light Valve" in page and "grated light valve" in page
    twin = client.get(f"/api/records/patent/{conflicted}").json()
    (c,) = twin["related"]["conflicts"]
    assert (c["field"], c["other_source"], c["other_locator"]) == (
        "title", "lyft_two.csv#US20190204420A1", "lyft_two.csv:#4:line 5")
    assert c["import_job_id"] is None  # which job wrote what is for staff

    staff, _token = client_as(app, "staff1")
    job = staff.get(f"/api/jobs/{job_id}").json()
    assert job["counts"]["merged"] == 2 and job["conflicts"]["total"] == 1
    assert job["conflicts"]["items"][0]["number"] == "US15858284"
    html = staff.get(f"/jobs/{job_id}").text
    assert 'id="job-conflicts"' in html and f'href="/records/patent/{conflicted}"' in html
    assert 'id="count-merged"' in html


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")
def test_a_person_sees_the_publications_and_the_conflict_in_the_browser(server, browser, store, shared_data,  # noqa: ANN001, F811
                                                                        tmp_path):
    _job_id, conflicted, _agreed = _import_two_applications(store, shared_data, tmp_path)
    page = browser.new_page(locale="zh-CN")
    watch = Watch(page)
    page.goto(f"{server}/records/patent/{conflicted}")
    rows = page.locator("#publications tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().startswith("US20190204420A1")  # oldest first
    assert "首次公开" in rows.nth(0).inner_text() and "授权公告" in rows.nth(1).inner_text()
    conflict = page.locator("#conflicts tbody tr")
    assert conflict.count() == 1 and "Gated Light Valve" in conflict.inner_text()
    assert page.locator("#conflicts-panel h2").inner_text().startswith("不一致的记录")
    _shot(page, tmp_path, "record_publications")
    assert watch.errors == []
