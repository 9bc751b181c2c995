"""An export without addresses, imported as a person does: each patent placed with its method,
the share per method on the job page (in a real browser), its JSON twin and `xjip jobs show`."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from xjip.cli import main
from xjip.hub import models as m
from xjip.hub.numbers import cn_check_digit
from xjip.hub.pipeline import run_import

from .conftest import login
from .test_browser import Watch, _shot, _staff_upload, browser, server  # noqa: F401 (fixtures)

def APP(serial: int) -> str:  # noqa: N802
    digits = f"2023100000{serial:02d}"
    return f"CN{digits}.{cn_check_digit(digits)}"


HEADER = ["申请号", "公开号", "标题", "申请人", "申请人地址", "国省代码"]
# application number → (applicant, address, 国省代码, expected region code, expected method)
ROWS = {
    APP(1): ("新疆大学", "", "新疆(65)", "650100", "organisation"),
    APP(2): ("国网新疆电力有限公司昌吉供电公司", "", "新疆(65)", "652300", "name"),
    APP(3): ("示例创新材料有限公司", "831100 新疆维吾尔自治区昌吉州昌吉市北京南路1号", "新疆(65)",
                         "652301", "gazetteer"),
    # the same owner without an address: placed where its other record's address is (job end)
    APP(4): ("示例创新材料有限公司", "", "新疆(65)", "652301", "owner"),
    APP(5): ("张伟", "", "新疆(65)", "650000", "province_code"),  # a person: 国省代码 only
    APP(6): ("新疆示例科技有限公司北京分公司", "", "北京(11)", "110000", "name"),
    # the name says Beijing, the 国省代码 Xinjiang: the 国省代码 wins, at province level
    APP(7): ("北京示例科技有限公司", "", "新疆(65)", "650000", "province_code"),
    APP(8): ("和田玉文化有限公司", "", "", None, None),  # a product, not a place
    APP(9): ("张伟", "", "", None, None),  # nothing to go on
    # a person with an address once is not placed by it elsewhere: two people of one name are one entity
    APP(10): ("李娜", "831100 新疆维吾尔自治区昌吉州昌吉市延安北路2号", "", "652301", "gazetteer"),
    APP(11): ("李娜", "", "", None, None),
}
EXPECTED_METHODS = {"organisation": 1, "name": 2, "gazetteer": 2, "owner": 1, "province_code": 2, "none": 3}


def _write_export(path: Path) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i, (app, (name, address, province, _code, _method)) in enumerate(ROWS.items()):
            out.writerow([app, f"CN1160000{i}0A", f"一种测试装置{i}", name, address, province])
    return path


def _stored(store) -> dict[str, tuple[str | None, str | None]]:  # noqa: ANN001
    with store.session() as s:
        return {app: (region, method) for app, region, method in s.execute(
            select(m.Patent.app_number, m.Patent.region_code, m.Patent.place_method))}


def test_an_export_without_addresses_is_placed_and_counted_per_method(store, settings, client: TestClient,  # noqa: ANN001
                                                                    users, tmp_path: Path) -> None:
    export = _write_export(tmp_path / "incopat_style.csv")
    job = run_import(store, export)
    assert (job.status, job.inserted_count, job.rejected_count) == ("done", len(ROWS), 0)
    stored = _stored(store)
    assert {app: stored.get(app) for app in ROWS} == {app: (row[3], row[4]) for app, row in ROWS.items()}
    with store.session() as s:
        assert s.get(m.ImportJob, job.id).place_methods == EXPECTED_METHODS
        # the person's party row is not placed by name; the organisation's is
        parties = dict(s.execute(select(m.PatentParty.name, m.PatentParty.place_method)
                                 .where(m.PatentParty.name.in_(["张伟", "新疆大学"]))).all())
        assert parties == {"张伟": None, "新疆大学": "organisation"}

    # the JSON twin of the job page
    login(client, "staff1")
    data = client.get(f"/api/jobs/{job.id}").json()
    shares = {g["method"]: (g["count"], g["share"]) for g in data["place_methods"]}
    assert shares == {k: (v, round(v / len(ROWS), 4)) for k, v in EXPECTED_METHODS.items()}
    page = client.get(f"/jobs/{job.id}")
    assert page.status_code == 200 and "按新疆单位名录" in page.text and 'data-method="owner"' in page.text

    # a re-import changes nothing and reports the same shares (the owner method's one included)
    again = run_import(store, export)
    assert (again.unchanged_count, again.inserted_count, again.updated_count) == (len(ROWS), 0, 0)
    with store.session() as s:
        assert s.get(m.ImportJob, again.id).place_methods == EXPECTED_METHODS

    # xjip jobs show, in text and JSON
    base = ["--database-url", settings.database_url, "--data-dir", settings.data_dir]
    shown = CliRunner().invoke(main, [*base, "jobs", "show", str(again.id)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "定位方式 placed by:" in shown.output
    assert "按同一权利人其他记录的地址 / The owner's other records: 1 (9.1%)" in shown.output
    assert "按国省代码（仅到省级） / The province code (province only): 2 (18.2%)" in shown.output
    as_json = CliRunner().invoke(main, [*base, "jobs", "show", str(again.id), "--format", "json"],
                                catch_exceptions=False)
    assert {g["method"]: g["count"] for g in json.loads(as_json.output)["place_methods"]} == EXPECTED_METHODS


def test_staff_see_how_an_upload_was_placed(server: str, browser, store, tmp_path: Path) -> None:  # noqa: ANN001, F811
    from xjip.web.auth import create_user

    from .conftest import PASSWORDS

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    page, watch = _staff_upload(browser, server, _write_export(tmp_path / "export.csv"))
    page.wait_for_selector('#job-status[data-status="done"]', timeout=60_000)
    page.wait_for_selector("#place-methods")  # the page reloads once the job is done
    rows = {r.get_attribute("data-method"): r.inner_text() for r in page.locator("#place-methods tbody tr").all()}
    assert set(rows) == set(EXPECTED_METHODS)
    assert rows["organisation"].split("\t") == ["按新疆单位名录", "1", "9.1%"]
    assert rows["none"].split("\t") == ["未能定位", "3", "27.3%"]
    _shot(page, tmp_path, "job_places_zh")
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors


def test_other_rights_with_an_owner_but_no_address_are_placed(store, tmp_path: Path) -> None:  # noqa: ANN001
    """A trademark list through the import template: owners without an address placed by name."""
    path = tmp_path / "trademarks.csv"
    marks = {"61000001": ("新疆大学", "650100", "organisation"),
             "61000002": ("石河子市示例食品有限公司", "659001", "name"),
             "61000003": ("和田玉文化有限公司", None, None),
             "61000004": ("Example Trading Ltd", None, None)}
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["申请号", "商标名称", "国际分类", "申请人/注册人", "申请人地址"])
        for number, (owner, _code, _method) in marks.items():
            out.writerow([number, "示例", "30", owner, ""])
    job = run_import(store, path)
    assert (job.status, job.inserted_count) == ("done", 4), job.error
    with store.session() as s:
        stored = {number: (region, method) for number, region, method in s.execute(
            select(m.Trademark.app_number, m.Trademark.region_code, m.Trademark.place_method))}
        assert s.get(m.ImportJob, job.id).place_methods == {"organisation": 1, "name": 1, "none": 2}
    assert stored == {number: (code, method) for number, (_o, code, method) in marks.items()}
