"""Import templates: the specs, the files offered for download, and reading them back
(round trips, detection, every validation error with its code, field and location)."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from xjip.hub import records as R
from xjip.hub.importers import gi_list, trademark_xml
from xjip.hub.importers import templates as tpl
from xjip.hub.importers._tabular import normalise_header
from xjip.hub.importers.base import REGISTRY, Source, detect, iter_sources, load_importers
from xjip.hub.records import Party, Rejection, SourceError

KINDS = ["trademark", "gi", "gi_mark_user", "copyright", "plant_variety", "transaction", "pledge", "case",
         "institution"]
CATALOGUE = Path(tpl.__file__).parents[2] / "i18n" / "catalogue"
HUAWEI = "914403001922038216"  # 华为技术有限公司, unified social credit code as published

# One record per kind, every template field filled (values in the style of the real registers).
SAMPLES: dict[str, R.BaseRecord] = {
    "trademark": R.TrademarkRecord(
        office="CN", app_number="13515371", reg_number="13515371", word_element="奇台面粉", nice_classes=["30"],
        similar_groups=["3006"], goods="面粉", owners=[Party("奇台县面粉行业协会", "新疆昌吉州奇台县", role="applicant")],
        app_date=dt.date(2013, 11, 18), reg_date=dt.date(2015, 2, 20), expiry_date=dt.date(2025, 2, 19),
        mark_kind="gi", mark_feature="word", agent="新疆某商标代理有限公司", status="registered", status_text="注册",
        status_date=dt.date(2015, 2, 20),
        transliterations={"pinyin": "Qitai Mianfen", "en": "Qitai Flour", "ug": "چىتەي ئۇنى"}),
    "gi_mark_user": R.GIMarkUserRecord(
        gi_name="库尔勒香梨", gi_system="PGI_product", user_name="华为技术有限公司", address="深圳市龙岗区坂田华为总部办公楼",
        credit_code=HUAWEI, approved_date=dt.date(2022, 3, 1), revoked_date=None, announcement_no="国家知识产权局第475号公告"),
    "copyright": R.CopyrightRecord(
        reg_number="2023SR0123456", kind="software", title="地理标志产品追溯管理系统V1.0", category="应用软件",
        authors=["张三", "李四"], owners=[Party("新疆某科技有限公司", "乌鲁木齐市高新区", role="owner"),
                                      Party("新疆大学", role="owner")],
        completion_date=dt.date(2022, 12, 1), first_publication_date=dt.date(2023, 1, 5), reg_date=dt.date(2023, 2, 1)),
    "plant_variety": R.PlantVarietyRecord(
        app_number="20191005678", grant_number="CNA20191005678", name="新陆早78号", species="棉属",
        applicants=[Party("新疆农垦科学院", "石河子市", role="applicant")], breeders=["王某", "赵某"],
        app_date=dt.date(2019, 3, 12), grant_date=dt.date(2022, 6, 30), status="授权"),
    "transaction": R.TransactionRecord(
        kind="licence", right_type="patent", right_number="CN202223220665.2", from_party="新疆大学",
        to_party="新疆某新材料有限公司", to_address="昌吉市", licence_type="exclusive", date=dt.date(2023, 5, 1),
        end_date=dt.date(2028, 4, 30), amount_wan=12.5, record_number="2023650000123"),
    "pledge": R.PledgeRecord(
        reg_number="Y2023650000088", right_type="patent", right_numbers=["CN202223220665.2", "CN201010123456.9"],
        pledgor="新疆某新材料有限公司", pledgor_address="昌吉市", pledgee="中国银行乌鲁木齐分行", amount_wan=500.0,
        reg_date=dt.date(2023, 7, 1), end_date=dt.date(2024, 6, 30), status="生效"),
    "case": R.CaseRecord(
        case_number="(2023)新01民初123号", kind="civil", right_type="trademark", cause="侵害商标权纠纷",
        plaintiffs=["奇台县面粉行业协会"], defendants=["某面粉厂", "某超市"], authority="乌鲁木齐市中级人民法院",
        address="乌鲁木齐市", accepted_date=dt.date(2023, 3, 1), closed_date=dt.date(2023, 9, 1), result="判决赔偿",
        amount_wan=8.0),
    "institution": R.InstitutionRecord(
        name="华为技术有限公司", kind="other", credit_code=HUAWEI, licence_number="65101", address="深圳市龙岗区",
        phone="0755-28780808", contact="王某", established_date=dt.date(1987, 9, 15), staff_count=120, agents_count=8),
}


def _get(rec: Any, path: str) -> Any:
    if "." not in path:
        return getattr(rec, path)
    head, attr = path.split(".", 1)
    target = getattr(rec, head)
    if isinstance(target, dict):
        return target.get(attr)
    return getattr(target[0], attr) if target else None


def cells(spec: tpl.TemplateSpec, rec: Any, fmt: str, lang: str = "zh") -> list[Any]:
    """A record written as a template row, as a user would type it."""
    out: list[Any] = []
    for c in spec.columns:
        v = _get(rec, c.field)
        if c.type == "partial_date" or c.split:
            v = getattr(rec, f"{c.field}_text")
        if c.type == "enum" and v is not None:
            v = getattr(next(ch for ch in c.choices if ch.value == v), lang)
        elif c.type == "parties":
            v = ";".join(p.name for p in v)
        elif c.type == "list":
            v = ";".join(v)
        elif c.type == "date" and v is not None and fmt == "csv":
            v = v.isoformat()
        if v in (None, "", []):
            v = None if fmt == "xlsx" else ""
        out.append(v)
    return out


def fill(kind: str, path: Path, rows: list[list[Any]], fmt: str) -> Source:
    tpl.write_template(kind, path, fmt)
    if fmt == "xlsx":
        wb = load_workbook(path)
        for row in rows:
            wb.worksheets[0].append(row)
        wb.save(path)
    else:
        with open(path, "a", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)
    (src,) = list(iter_sources(path))
    return src


def plain(rec: Any) -> Any:
    return dataclasses.replace(rec, locator=None, raw=None)


def run(src: Source, kind: str) -> list:
    return list(tpl.IMPORTERS[kind].parse(src, {}))


# --- the specs -------------------------------------------------------------------------

def test_every_kind_has_a_spec_and_a_registered_importer() -> None:
    assert list(tpl.template_specs()) == KINDS
    load_importers()
    for kind in KINDS:
        assert REGISTRY[f"tpl_{kind}"] is tpl.IMPORTERS[kind]
        assert tpl.IMPORTERS[kind].record_types == (tpl.SPECS[kind].record.record_type,)


@pytest.mark.parametrize("kind", KINDS)
def test_spec_fields_are_dataclass_fields(kind: str) -> None:
    spec = tpl.SPECS[kind]
    hints = typing.get_type_hints(spec.record)
    names = {f.name for f in dataclasses.fields(spec.record)}
    party_fields = {f.name for f in dataclasses.fields(Party)}
    for c in spec.columns:
        head, _, attr = c.field.partition(".")
        assert head in names, c.field
        if attr:
            assert hints[head] in (list[Party], dict[str, str]), c.field
            assert hints[head] is not list[Party] or attr in party_fields, c.field
        assert c.type in tpl.TYPES
        assert c.check in (None, "right_number", *tpl.CHECKS)
        assert (c.type == "enum") == bool(c.choices)
        if c.type == "partial_date":
            assert f"{c.field}_text" in names
    assert spec.required() and spec.defaults.keys() <= names


@pytest.mark.parametrize("kind", KINDS)
def test_headers_and_values_are_unambiguous(kind: str) -> None:
    spec = tpl.SPECS[kind]
    seen: dict[str, str] = {}
    for alias, fld in spec.aliases().items():
        norm = normalise_header(alias)
        assert seen.setdefault(norm, fld) == fld, f"{alias!r} means {seen[norm]} and {fld}"
    for c in spec.columns:
        labels: dict[str, str] = {}
        for ch in c.choices:
            assert ch.zh and ch.en
            for label in (ch.value, ch.zh, ch.en, *ch.aliases):
                assert labels.setdefault(normalise_header(label), ch.value) == ch.value


def test_catalogue_has_every_code_and_label() -> None:
    zh = json.loads((CATALOGUE / "templates.zh.json").read_text(encoding="utf-8"))
    en = json.loads((CATALOGUE / "templates.en.json").read_text(encoding="utf-8"))
    assert zh.keys() == en.keys()
    assert {f"templates.type.{t}" for t in tpl.TYPES} <= zh.keys()
    assert {f"templates.kind.{k}" for k in KINDS} <= zh.keys()
    codes = {"invalid_date", "bad_value", "missing_field", "duplicate_key", "formula", "missing_columns",
             "check_digit", "xml_truncated", "xml_malformed", "xml_entities_forbidden", "empty_file"}
    for lang in ("zh", "en"):
        merged: dict[str, str] = {}
        for path in CATALOGUE.glob(f"*.{lang}.json"):
            merged.update(json.loads(path.read_text(encoding="utf-8")))
        assert {f"import.error.{c}" for c in codes} <= merged.keys()


# --- the files offered for download ----------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_xlsx_template_layout(kind: str, tmp_path: Path) -> None:
    spec = tpl.SPECS[kind]
    wb = load_workbook(tpl.write_template(kind, tmp_path / "t.xlsx"))
    assert wb.sheetnames == [spec.zh.replace("/", "、"), "说明"]
    data, notes = wb.worksheets
    assert [c.value for c in data[1]] == [c.header for c in spec.columns]
    assert data.max_row == 1
    assert [c.header.endswith("*") for c in spec.columns] == [c.required for c in spec.columns]
    lists = {str(dv.sqref): dv.formula1 for dv in data.data_validations.dataValidation}
    enums = {}
    for i, c in enumerate(spec.columns):
        if c.type == "enum":
            letter = get_column_letter(i + 1)
            enums[f"{letter}2:{letter}5000"] = '"' + ",".join(ch.zh for ch in c.choices) + '"'
    assert lists == enums
    rows = list(notes.iter_rows(values_only=True))
    assert rows[0][0] == "列名 Column"
    assert [r[0] for r in rows[1:len(spec.columns) + 1]] == [c.header for c in spec.columns]
    assert [r[2] for r in rows[1:len(spec.columns) + 1]] == [c.field for c in spec.columns]


def test_transaction_template_notes_and_dropdowns(tmp_path: Path) -> None:
    wb = load_workbook(tpl.write_template("transaction", tmp_path / "t.xlsx"))
    data, notes = wb.worksheets
    lists = {str(dv.sqref): dv.formula1 for dv in data.data_validations.dataValidation}
    assert lists["A2:A5000"] == '"转让,许可,开放许可"'
    assert lists["G2:G5000"] == '"独占,排他,普通"'
    licence = next(r for r in notes.iter_rows(values_only=True) if r[0] == "许可类型")
    assert licence[1:6] == ("Licence type", "licence_type", None, "从列表中选择 / one of the listed values",
                            "独占 = Exclusive\n排他 = Sole\n普通 = Ordinary")
    kind = next(r for r in notes.iter_rows(values_only=True) if r[0] == "交易类型*")
    assert kind[3] == "是 yes"


def test_csv_template_layout(tmp_path: Path) -> None:
    path = tpl.write_template("transaction", tmp_path / "t.csv", fmt="csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    comment, header = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert comment[0] == "# Transaction kind * (Transfer / Licence / Open licence)"
    assert comment[6] == "Licence type (Exclusive / Sole / Ordinary)"
    assert comment[7] == "Effective date (date YYYY-MM-DD)"
    assert header == [c.header for c in tpl.SPECS["transaction"].columns]
    with pytest.raises(ValueError):
        tpl.write_template("transaction", tmp_path / "t.ods", fmt="ods")
    with pytest.raises(KeyError):
        tpl.write_template("patent", tmp_path / "t.xlsx")


# --- round trips -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_round_trip(kind: str, fmt: str, tmp_path: Path) -> None:
    spec, rec = tpl.SPECS[kind], SAMPLES[kind]
    src = fill(kind, tmp_path / f"t.{fmt}", [cells(spec, rec, fmt, "zh" if fmt == "xlsx" else "en")], fmt)
    assert detect(src).name == f"tpl_{kind}"
    (got,) = run(src, kind)
    assert plain(got) == rec
    # CSV: comment row 1, header row 2, data row 3
    assert (got.locator.record, got.locator.line) == (1, 3 if fmt == "csv" else 2)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_all_93_real_gis_through_the_gi_template(shared_data: Path, tmp_path: Path, fmt: str) -> None:
    (src,) = list(iter_sources(shared_data / "gi/xinjiang_gi_records.csv"))
    listed = [plain(r) for r in gi_list.gi_list.parse(src, {})]
    spec = tpl.SPECS["gi"]
    filled = fill("gi", tmp_path / f"gi.{fmt}", [cells(spec, r, fmt) for r in listed], fmt)
    assert detect(filled).name == "tpl_gi"
    assert [plain(r) for r in run(filled, "gi")] == listed


def test_real_trademark_through_the_template(shared_data: Path, tmp_path: Path) -> None:
    (src,) = list(iter_sources(shared_data / "trademarks/records/wipo_gbd_test_fixtures/idtm__unicode.xml"))
    (kingma,) = list(trademark_xml.trademark_xml.parse(src, {}))
    spec = tpl.SPECS["trademark"]
    (got,) = run(fill("trademark", tmp_path / "tm.xlsx", [cells(spec, kingma, "xlsx")], "xlsx"), "trademark")
    for c in spec.columns:
        assert _get(got, c.field) == (_get(kingma, c.field) if c.field != "owners" else
                                      [Party(p.name, p.address, role="applicant") for p in kingma.owners])
    assert got.natural_key() == "ID:DID2017000184" and got.events == []


# --- detection -------------------------------------------------------------------------

def test_sniff_never_claims_patent_or_other_files(shared_data: Path) -> None:
    files = [
        "patents/cn_patent_records_small/cnki_zhiwang_zhuanli_nlp/MaterialChemistry_18_19.xlsx",
        "gi/xinjiang_gi_records.csv", "trademarks/records/opposed_applications_2023.csv.gz",
        "classification/nice_classes.csv", "legal/index.csv", "regions/xinjiang_admin_divisions.csv",
    ]
    for rel in files:
        (src,) = list(iter_sources(shared_data / rel))
        head = src.head()
        assert [k for k, imp in tpl.IMPORTERS.items() if imp.sniff(head, src.name)] == [], rel
    patent_header = "申请号,申请日,公开（公告）号,IPC分类号,申请（专利权）人,发明人\n".encode()
    assert all(imp.sniff(patent_header, "p.csv") == 0 for imp in tpl.IMPORTERS.values())


def test_sniff_prefers_the_matching_template(tmp_path: Path) -> None:
    # a GI mark-user file that also names the GI system is still a mark-user file
    header = "地理标志名称*,企业名称*,保护类型,统一社会信用代码\n".encode()
    scores = {k: imp.sniff(header, "x.csv") for k, imp in tpl.IMPORTERS.items()}
    assert max(scores, key=scores.get) == "gi_mark_user" and scores["gi"] > 0
    # one required column missing: still detected (the import then names the missing column)
    assert tpl.IMPORTERS["transaction"].sniff("交易类型,权利类型,受让人\n".encode(), "x.csv") == 30
    assert tpl.IMPORTERS["transaction"].sniff("交易类型\n".encode(), "x.csv") == 0


# --- validation ------------------------------------------------------------------------

TX = tpl.SPECS["transaction"]


def tx_row(**changes: Any) -> list[Any]:
    rec = dataclasses.replace(SAMPLES["transaction"], **{k: v for k, v in changes.items() if not k.startswith("_")})
    row = cells(TX, rec, "csv")
    for key, value in changes.items():
        if key.startswith("_"):  # raw cell by field name
            row[[c.field for c in TX.columns].index(key[1:])] = value
    return row


def test_every_validation_error_csv(tmp_path: Path) -> None:
    rows = [
        tx_row(),  # record 1, line 3: good
        tx_row(_date="2023-02-30", record_number="R2"),  # impossible date
        tx_row(_licence_type="独家", record_number="R3"),  # not an allowed value
        tx_row(_right_number="", record_number="R4"),  # required value missing
        tx_row(),  # same record number as record 1
        tx_row(_right_number="ZL202223220665.3", record_number="R6"),  # wrong CN check digit
        tx_row(_amount_wan="十万", record_number="R7"),
        tx_row(_kind="transfer", _licence_type="", record_number="R8"),  # good, English enum
        tx_row(_kind="开放许可", _licence_type="普通", record_number="R9"),  # good
    ]
    items = run(fill("transaction", tmp_path / "t.csv", rows, "csv"), "transaction")
    got = [(i.code, i.field, i.params, i.locator.record, i.locator.line, i.locator.cell)
           if isinstance(i, Rejection) else ("ok", i.record_number, i.kind, i.licence_type) for i in items]
    assert got == [
        ("ok", "2023650000123", "licence", "exclusive"),
        ("invalid_date", "生效日期", {"value": "2023-02-30"}, 2, 4, None),
        ("bad_value", "许可类型", {"value": "独家"}, 3, 5, None),
        ("missing_field", "专利号/注册号", {}, 4, 6, None),
        ("duplicate_key", None, {"key": "licence:2023650000123", "first": 1}, 5, 7, None),
        ("check_digit", "专利号/注册号", {"value": "ZL202223220665.3", "expected": "202223220665.2"}, 6, 8, None),
        ("bad_value", "金额（万元）", {"value": "十万"}, 7, 9, None),
        ("ok", "R8", "transfer", None),
        ("ok", "R9", "open_licence", "ordinary"),
    ]
    assert items[1].raw["生效日期"] == "2023-02-30"


def test_validation_errors_xlsx_carry_the_cell(tmp_path: Path) -> None:
    rows = [cells(TX, SAMPLES["transaction"], "xlsx"),
            ["转让", "商标", "13515371", None, "某公司", None, None, "2023-13-01"],
            ["开放许可", "专利", "CN202223220665.2", None, None, None, "sole", dt.date(2024, 1, 2)]]
    path = tmp_path / "t.xlsx"
    src = fill("transaction", path, rows, "xlsx")
    wb = load_workbook(path)
    wb.worksheets[0]["J4"] = "=1+1"  # a formula in the third data row
    wb.save(path)
    items = run(src, "transaction")
    assert isinstance(items[0], R.TransactionRecord) and items[0].date == dt.date(2023, 5, 1)
    assert (items[1].code, items[1].field, items[1].locator.cell) == ("invalid_date", "生效日期", "H3")
    # a formula cell is data (the result the file stores; openpyxl stores none): never evaluated
    assert isinstance(items[2], R.TransactionRecord) and items[2].raw["金额（万元）"] is None


@pytest.mark.parametrize("cell,value", [("独占", "exclusive"), ("exclusive", "exclusive"), ("独占许可", "exclusive"),
                                        ("排他", "sole"), ("Sole", "sole"), ("普通", "ordinary"),
                                        ("ORDINARY", "ordinary"), ("non-exclusive", "ordinary")])
def test_licence_types_in_either_language(tmp_path: Path, cell: str, value: str) -> None:
    (rec,) = run(fill("transaction", tmp_path / "t.csv", [tx_row(_licence_type=cell)], "csv"), "transaction")
    assert rec.licence_type == value


def test_missing_required_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("交易类型,权利类型,受让人\n许可,专利,某公司\n", encoding="utf-8")
    (src,) = list(iter_sources(path))
    with pytest.raises(SourceError) as err:
        run(src, "transaction")
    assert (err.value.rejection.code, err.value.rejection.params) == ("missing_columns", {"columns": "专利号/注册号"})
    assert err.value.rejection.locator.line == 1


def test_other_field_checks(tmp_path: Path) -> None:
    spec = tpl.SPECS["gi_mark_user"]
    good = cells(spec, SAMPLES["gi_mark_user"], "csv")
    bad_code = list(good)
    bad_code[3] = HUAWEI[:-1] + "7"
    items = run(fill("gi_mark_user", tmp_path / "u.csv", [good, bad_code], "csv"), "gi_mark_user")
    assert plain(items[0]) == SAMPLES["gi_mark_user"]
    assert (items[1].code, items[1].field, items[1].params) == ("bad_value", "统一社会信用代码",
                                                                {"value": HUAWEI[:-1] + "7"})
    tm = tpl.SPECS["trademark"]
    rows = []
    for nice, group in (("9;第35类", "901"), ("46", ""), ("9", "9901")):
        r = cells(tm, SAMPLES["trademark"], "csv")
        r[0], r[2], r[12] = f"N{len(rows)}", nice, group
        rows.append(r)
    ok, bad_nice, bad_group = run(fill("trademark", tmp_path / "tm.csv", rows, "csv"), "trademark")
    assert (ok.nice_classes, ok.similar_groups) == (["09", "35"], ["0901"])
    assert (bad_nice.code, bad_nice.field, bad_nice.params) == ("bad_value", "国际分类", {"value": "46"})
    assert (bad_group.code, bad_group.field) == ("bad_value", "类似群")


@pytest.mark.parametrize("text,date,code", [("2013-01", None, None), ("2011", None, None),
                                            ("2013年1月", None, None), ("2004-10-05", dt.date(2004, 10, 5), None),
                                            ("before 2009-10", None, None), ("2013-02-29", None, "invalid_date"),
                                            ("2013-13", None, "invalid_date"), ("去年", None, "invalid_date")])
def test_gi_partial_dates(tmp_path: Path, text: str, date: dt.date | None, code: str | None) -> None:
    row = ["阿克苏苹果", "农产品地理标志", None, None, None, None, None, None, text]
    (item,) = run(fill("gi", tmp_path / "gi.xlsx", [row], "xlsx"), "gi")
    if code:
        assert (item.code, item.field, item.params, item.locator.cell) == (code, "批准日期", {"value": text}, "I2")
    else:
        assert (item.approval_date, item.approval_date_text) == (date, text)
