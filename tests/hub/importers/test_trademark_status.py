"""Trademark statuses: the printed → normalised table, and every importer path storing both
(`Trademark.status` normalised, `Trademark.status_text` as printed) on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub.importers import templates as tpl
from xjip.hub.importers.trademark_status import STATUSES, normalise_status, split_status
from xjip.hub.pipeline import run_import

FIXTURES = "trademarks/records/wipo_gbd_test_fixtures"
ST96_EXAMPLE = ("patents/office_xml_examples_st36_st96_jp_us/03-96-vii-example-instances/"
                "TrademarkApplication_Example.xml.gz")
OPPOSED = "trademarks/records/opposed_applications_2023.csv.gz"

TABLE = [
    # WIPO ST.66 / ST.96 MarkCurrentStatusCode and GBD statuses
    ("Application filed", "filed"), ("Filing date accorded", "filed"), ("Classification checked", "filed"),
    ("Pending", "filed"), ("Examined", "filed"), ("Depositado", "filed"),
    ("Application published", "published"),
    ("Registered", "registered"), ("REGISTERED", "registered"), ("Registration published", "registered"),
    ("active", "registered"), ("Renewed", "registered"),
    ("Opposition pending", "opposed"), ("Application opposed", "opposed"), ("opposition", "opposed"),
    ("Application refused", "refused"), ("Rejected", "refused"),
    ("Application withdrawn", "withdrawn"), ("Abandoned", "withdrawn"),
    ("Expired", "expired"), ("Registration expired", "expired"),
    ("Registration cancelled", "cancelled"), ("Registration surrendered", "cancelled"), ("Revoked", "cancelled"),
    ("Registration invalidated", "invalidated"),
    # case, spacing, underscores and full-width letters do not matter
    ("  application   FILED ", "filed"), ("REGISTRATION_CANCELLED", "cancelled"), ("Ｒｅｇｉｓｔｅｒｅｄ", "registered"),
    # CNIPA 商标状态
    ("申请收文", "filed"), ("待审中", "filed"), ("等待实质审查", "filed"),
    ("初审公告", "published"), ("初步审定公告", "published"),
    ("注册", "registered"), ("已注册", "registered"), ("商标已注册", "registered"), ("已 注册", "registered"),
    ("异议中", "opposed"), ("驳回", "refused"), ("不予注册", "refused"), ("撤回", "withdrawn"),
    ("期满未续展", "expired"), ("注销", "cancelled"), ("撤销", "cancelled"), ("已撤销", "cancelled"),
    ("无效", "invalidated"), ("已无效", "invalidated"), ("宣告无效", "invalidated"),
    # ambiguous or unknown: never guessed
    ("Ended", "other"), ("deleted", "other"), ("Inactive", "other"), ("Unknown", "other"), ("1058", "other"),
    ("Appeal pending", "other"), ("Revocation proceeding pending", "other"), ("驳回复审中", "other"),
    ("Registered?", "other"), ("registered mark pending", "other"),
    # nothing printed
    (None, None), ("", None), ("   ", None),
]


@pytest.mark.parametrize(("printed", "expected"), TABLE)
def test_printed_to_normalised(printed: str | None, expected: str | None) -> None:
    assert normalise_status(printed) == expected
    assert expected is None or expected in STATUSES


def test_split_keeps_the_printed_text() -> None:
    assert split_status("  Opposition   pending ") == ("opposed", "Opposition pending")
    assert split_status("某种 新状态") == ("other", "某种 新状态")
    assert split_status(None) == (None, None) and split_status(" ") == (None, None)
    assert split_status("x" * 500) == ("other", "x" * 200)  # the column's length; the raw record keeps it all


def test_every_status_of_the_real_fixtures_is_known(shared_data: Path) -> None:
    """The GBD fixtures' statuses (summary CSV) map as decided; only the ambiguous ones are 'other'."""
    with open(shared_data / f"{FIXTURES}_summary.csv", encoding="utf-8") as fh:
        printed = {r["status"] for r in csv.DictReader(fh)}
    assert {p: normalise_status(p) for p in printed} == {
        "Expired": "expired", "Depositado": "filed", "Rejected": "refused", "active": "registered",
        "deleted": "other", "pending": "filed", "Registered": "registered", "Examined": "filed", "1058": "other",
    }


# --- every importer path stores both --------------------------------------------------------

def stored(store, keys: list[str]) -> dict[str, tuple[str | None, str | None]]:  # noqa: ANN001
    with store.session() as s:
        rows = s.execute(select(m.Trademark.key, m.Trademark.status, m.Trademark.status_text)
                         .where(m.Trademark.key.in_(keys))).all()
    return {k: (st, text) for k, st, text in rows}


def test_st66_import_stores_both(store, shared_data: Path) -> None:  # noqa: ANN001
    job = run_import(store, shared_data / FIXTURES / "idtm__unicode.xml")
    assert job.status == "done" and job.inserted_count == 1
    assert stored(store, ["ID:DID2017000184"]) == {"ID:DID2017000184": ("refused", "Rejected")}


def test_st96_import_stores_both(store, shared_data: Path) -> None:  # noqa: ANN001
    job = run_import(store, shared_data / ST96_EXAMPLE)
    assert job.status == "done" and job.inserted_count == 1
    assert stored(store, ["US:87035559"]) == {"US:87035559": ("registered", "REGISTERED")}


def test_il_import_stores_both(store, shared_data: Path) -> None:  # noqa: ANN001
    for name in ("iltm__collcert.xml", "iltm__eventdata.xml", "iltm__tlit.xml"):
        assert run_import(store, shared_data / FIXTURES / name).inserted_count == 1
    with store.session() as s:
        rows = set(s.execute(select(m.Trademark.status, m.Trademark.status_text)
                             .where(m.Trademark.office == "IL")).all())
    assert rows == {("other", "deleted"), ("filed", "pending"), ("registered", "active")}


def test_opposed_csv_import_stores_both(store, shared_data: Path) -> None:  # noqa: ANN001
    job = run_import(store, shared_data / OPPOSED)
    assert job.status == "done" and job.inserted_count == 230
    with store.session() as s:
        rows = s.execute(select(m.Trademark.status, m.Trademark.status_text).distinct()).all()
    assert rows == [("opposed", "opposition")]


ROWS = [("13515371", "已注册"), ("13515372", "初审公告"), ("13515373", "Opposition pending"),
        ("13515374", "某种新状态"), ("13515375", "")]
EXPECTED = {"CN:13515371": ("registered", "已注册"), "CN:13515372": ("published", "初审公告"),
            "CN:13515373": ("opposed", "Opposition pending"), "CN:13515374": ("other", "某种新状态"),
            "CN:13515375": (None, None)}


def _row(spec: tpl.TemplateSpec, number: str, status: str) -> list[str]:
    values = {"app_number": number, "word_element": "奇台面粉", "nice_classes": "30", "owners": "奇台县面粉行业协会",
              "status": status}
    return [values.get(c.field, "") for c in spec.columns]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_template_import_stores_both(store, tmp_path: Path, fmt: str) -> None:  # noqa: ANN001
    spec = tpl.SPECS["trademark"]
    path = tmp_path / f"商标.{fmt}"
    tpl.write_template("trademark", path, fmt)
    rows = [_row(spec, n, s) for n, s in ROWS]
    if fmt == "xlsx":
        wb = load_workbook(path)
        for row in rows:
            wb.worksheets[0].append([v or None for v in row])
        wb.save(path)
    else:
        with open(path, "a", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)
    job = run_import(store, path)
    assert (job.status, job.inserted_count, job.rejected_count) == ("done", 5, 0)
    assert stored(store, list(EXPECTED)) == EXPECTED
