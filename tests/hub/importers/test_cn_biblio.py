"""Chinese patent bibliographic exports (SQL dump, CNKI workbook, CSV, unified JSONL), checked
against the JSONL views of the same real rows in patents/cn_patent_records_small."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import openpyxl
import pytest

from xjip.hub.importers import cn_biblio
from xjip.hub.importers.base import Source, detect, iter_sources
from xjip.hub.records import PatentRecord, Rejection, SourceError
from xjip.i18n import catalogue

SMALL = "patents/cn_patent_records_small"
SQL = f"{SMALL}/patentsemantix/zhuanli_zongbiao_anli.sql.gz"
SEMANTIX_JSONL = f"{SMALL}/patentsemantix/records_original_columns.jsonl.gz"
CNKI_XLSX = f"{SMALL}/cnki_zhiwang_zhuanli_nlp/MaterialChemistry_18_19.xlsx"
CNKI_JSONL = f"{SMALL}/cnki_zhiwang_zhuanli_nlp/records.jsonl.gz"
UNIFIED = f"{SMALL}/cn_records_unified.jsonl.gz"

# A CNIPA-search-style header → key of the real PatentSemantix row.
COLUMNS = {"公开（公告）号": "公开号", "申请号": "申请号", "申请日": "申请日", "公开（公告）日": "公开日",
           "授权公告号": "授权公告号", "名称": "专利名称", "摘要": "申请摘要", "主权项": "主权项",
           "申请（专利权）人": "申请人", "申请人地址": "申请人地址", "发明（设计）人": "发明人",
           "代理机构": "专利代理机构", "代理人": "专利代理人", "IPC分类号": "分类号", "主分类号": "主分类号",
           "国省代码": "国省代码", "法律状态": "法律状态", "专利类型": "专利类型", "转让次数": "专利转移次数",
           "许可次数": "许可次数", "质押次数": "质押次数"}


def jsonl(shared_data: Path, rel: str) -> list[dict]:
    with gzip.open(shared_data / rel, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def src(path: Path) -> Source:
    return next(iter_sources(path))


def parse(path: Path, **options: object) -> list:
    return list(cn_biblio.importer.parse(src(path), dict(options)))


def records(items: list) -> list[PatentRecord]:
    return [i for i in items if isinstance(i, PatentRecord)]


def rejections(items: list) -> list[Rejection]:
    return [i for i in items if isinstance(i, Rejection)]


@pytest.fixture(scope="module")
def semantix(shared_data: Path) -> list[dict]:
    return jsonl(shared_data, SEMANTIX_JSONL)


@pytest.fixture(scope="module")
def unified(shared_data: Path) -> list[dict]:
    return jsonl(shared_data, UNIFIED)


def rows_of(semantix: list[dict], extra: dict[str, list[str]] | None = None) -> list[list[str]]:
    header = list(COLUMNS) + list(extra or {})
    body = [[r[COLUMNS[h]] for h in COLUMNS] + [v[i] for v in (extra or {}).values()] for i, r in enumerate(semantix)]
    return [header] + body


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def test_sql_dump_matches_the_jsonl_views(shared_data: Path, unified: list[dict]) -> None:
    items = parse(shared_data / SQL)
    assert rejections(items) == []
    recs = records(items)
    assert len(recs) == 10
    expected = [u for u in unified if u["source_dataset"] == "patentsemantix_sql"]
    assert [r.app_number for r in recs] == [u["application_number"] for u in expected]
    assert [r.pub_number for r in recs] == [u["publication_number"] for u in expected]
    assert [r.title for r in recs] == [u["title"] for u in expected]
    assert [[p.name for p in r.applicants] for r in recs] == [[a["name"] for a in u["applicants"]] for u in expected]
    assert [r.inventors for r in recs] == [u["inventors"] for u in expected]
    assert [r.ipc for r in recs] == [u["ipc"] for u in expected]
    assert [r.patent_type for r in recs] == [u["patent_type"] for u in expected]
    first = recs[0]
    assert first.locator is not None and (first.locator.record, first.locator.line) == (1, 91)
    assert first.locator.file == "zhuanli_zongbiao_anli.sql.gz"
    assert (first.app_date, first.pub_date, first.grant_date) == (dt.date(2022, 12, 2), dt.date(2023, 3, 28),
                                                                  dt.date(2023, 3, 28))
    assert first.grant_number == "CN218751475U" and first.kind_code == "U"
    # postcode stripped from the first applicant's address, kept in the raw row
    assert first.applicants[0].address == "河南省郑州市郑东新区中道东路6号创意岛大厦8层"
    assert first.raw["申请人地址"] == "450000河南省郑州市郑东新区中道东路6号创意岛大厦8层"
    assert (first.ipc_main, first.province_code, first.legal_status, first.status) == (
        "B64U20/80", "41", "有权-审定授权", "granted")
    assert first.agency == "郑州明华专利代理事务所（普通合伙）" and first.agents == ["袁艳丽"]
    assert (first.transfer_count, first.license_count, first.pledge_count, first.events) == (0, 0, 0, [])
    assert first.claims[0].startswith("1.一种无人机机载多功能盒，其特征在于")
    pending = recs[7]
    assert (pending.app_number, pending.status, pending.grant_number, pending.patent_type) == (
        "CN202211740332.4", "pending", None, "invention")
    granted = recs[9]
    assert (granted.pub_number, granted.grant_number, granted.grant_date) == (
        "CN115883397A", "CN115883397B", dt.date(2024, 4, 5))
    assert [r.locator.line for r in recs] == list(range(91, 101))


def test_cnki_workbook_33_records(shared_data: Path, unified: list[dict]) -> None:
    items = parse(shared_data / CNKI_XLSX)
    assert rejections(items) == []
    recs = records(items)
    scrape = jsonl(shared_data, CNKI_JSONL)
    assert len(recs) == 33
    assert [r.pub_number for r in recs] == [s["publication_number_from_href"] for s in scrape]
    assert [r.title for r in recs] == [s["title"] for s in scrape]
    expected = [u for u in unified if u["source_dataset"] == "cnki_zhiwang_zhuanli_nlp_xlsx"]
    assert [[p.name for p in r.applicants] for r in recs] == [[a["name"] for a in u["applicants"]] for u in expected]
    assert [r.patent_type for r in recs] == [u["patent_type"] for u in expected]
    first = recs[0]
    # 'sql' is the application date, 'quote' the publication date, 'author' the inventors
    assert (first.app_date, first.pub_date) == (dt.date(2018, 7, 30), dt.date(2018, 12, 11))
    assert first.inventors == ["李育超", "于泽溪", "魏璐璐", "黄根清"]
    assert first.abstract.startswith("本发明公开了一种地下防污屏障材料化学相容性测试装置及方法")
    assert first.app_number is None and first.locator.line == 2
    joint = next(r for r in recs if r.pub_number == "CN105367415B")
    assert [p.name for p in joint.applicants] == ["航天资源循环科技有限公司", "中国科学院过程工程研究所"]
    assert joint.grant_number == "CN105367415B"  # a B document is the grant announcement


def test_unified_jsonl(shared_data: Path, unified: list[dict]) -> None:
    source = src(shared_data / UNIFIED)
    assert detect(source).name == "cn_biblio_jsonl"
    items = list(cn_biblio.jsonl_importer.parse(source, {}))
    assert rejections(items) == []
    recs = records(items)
    assert len(recs) == 52
    assert [r.title for r in recs] == [u["title"] for u in unified]
    xml = next(r for r in recs if r.pub_number == "CN113781974A")
    assert xml.app_number == "CN202111286633.X" and xml.patent_type == "invention"
    assert xml.applicants[0].name == "三星显示有限公司" and xml.applicants[0].country == "KR"
    assert (xml.priorities[0].country, xml.priorities[0].number, xml.priorities[0].date) == (
        "KR", "10-2016-0063019", dt.date(2016, 5, 23))
    zj = next(r for r in recs if r.pub_number == "CN113783949A")
    assert zj.applicants[0].address == "浙江省杭州市萧山区鸿宁路1788号" and zj.ipc_main == "H04L29/08"
    assert recs[51].locator.line == 52


def test_detection(shared_data: Path, tmp_path: Path) -> None:
    assert detect(src(shared_data / SQL)).name == "cn_biblio"
    assert detect(src(shared_data / CNKI_XLSX)).name == "cn_biblio"
    sniff = cn_biblio.importer.sniff
    # a trademark template shares 申请号/申请日/申请人/名称 but no patent header: not ours
    trademark = "申请号,申请日,申请人,名称,注册号,国际分类,代理机构\n12345678,2020-01-01,某公司,雪莲,123,30,某代理\n"
    assert sniff(trademark.encode("utf-8"), "tm.csv") == 0
    assert sniff(b"CREATE TABLE `t` (`id` int, `name` varchar(9));\nINSERT INTO `t` VALUES (1,'a');\n", "x.sql") == 0
    csv_head = write_csv(tmp_path / "p.csv", [list(COLUMNS)], "gbk").read_bytes()
    assert sniff(csv_head, "p.csv") >= 80
    assert cn_biblio.jsonl_importer.sniff((shared_data / CNKI_XLSX).read_bytes()[:65536], "x") == 0


def test_gbk_and_utf8_bom_csv_give_identical_records(tmp_path: Path, semantix: list[dict]) -> None:
    table = rows_of(semantix)
    gbk = parse(write_csv(tmp_path / "gbk.csv", table, "gbk"))
    bom = parse(write_csv(tmp_path / "bom.csv", table, "utf-8-sig"))
    assert rejections(gbk) == [] and len(gbk) == 10
    strip = [(r.app_number, r.title, r.applicants, r.raw, r.locator.line, r.ipc, r.status) for r in gbk]
    assert strip == [(r.app_number, r.title, r.applicants, r.raw, r.locator.line, r.ipc, r.status) for r in bom]
    assert gbk[2].app_number == "CN202121635235.X" and gbk[2].locator.line == 4
    assert gbk[2].applicants[0].address == "河南省郑州市郑东新区中道东路6号创意岛大厦8层"
    assert gbk[0].patent_type == "utility_model" and gbk[9].patent_type == "invention"


def test_wrong_encoding(tmp_path: Path, semantix: list[dict]) -> None:
    good = write_csv(tmp_path / "g.csv", rows_of(semantix)[:3]).read_bytes()
    path = tmp_path / "bad.csv"
    path.write_bytes(good + "CN1,CN2,20230101,x,x,x,Société Générale é,x\r\n".encode("latin-1"))
    err = None
    try:
        for _item in cn_biblio.importer.parse(src(path), {}):
            pass
    except SourceError as exc:
        err = exc.rejection
    assert err is not None and err.code == "encoding" and err.locator.line == 4
    assert catalogue("zh")["import.error.encoding"]


def test_check_digit_and_invalid_date_are_located(tmp_path: Path, semantix: list[dict]) -> None:
    table = rows_of(semantix)
    table[2][1] = "CN202122975192.7"  # right one is .6
    table[4][2] = "2023-02-30"
    items = parse(write_csv(tmp_path / "bad.csv", table))
    rej = rejections(items)
    assert [(r.code, r.field, r.locator.record, r.locator.line) for r in rej] == [
        ("check_digit", "申请号", 2, 3), ("invalid_date", "申请日", 4, 5)]
    assert rej[0].params["expected"] == "202122975192.6" and rej[0].raw["申请号"] == "CN202122975192.7"
    assert rej[1].params["value"] == "2023-02-30"
    assert len(records(items)) == 8 and records(items)[0].app_number == "CN202223220665.2"


def test_missing_columns(tmp_path: Path, semantix: list[dict]) -> None:
    table = rows_of(semantix)
    no_numbers = [[c for h, c in zip(table[0], row) if h not in ("申请号", "公开（公告）号", "授权公告号")] for row in table]
    with pytest.raises(SourceError) as exc:
        parse(write_csv(tmp_path / "n.csv", no_numbers))
    assert exc.value.rejection.code == "missing_columns"
    assert exc.value.rejection.params["columns"] == "申请号/公开（公告）号/授权公告号"
    no_title = [row[:4] for row in table]
    with pytest.raises(SourceError) as exc:
        parse(write_csv(tmp_path / "t.csv", no_title))
    assert exc.value.rejection.params["columns"] == "名称" and exc.value.rejection.locator.line == 1


def test_two_rows_for_one_application_with_conflicting_titles(store, tmp_path: Path, semantix: list[dict]) -> None:
    """Bad input: a row repeats an application with another title. It is kept (merged into the
    one record, its raw row stored), the disagreement recorded where a person sees it, the
    first row's title kept (same publication: the first row read stays); re-imported, nothing
    changes. The same row twice is still a duplicate, located at the repeat."""
    from sqlalchemy import func, select

    from xjip.hub import models as m
    from xjip.hub.pipeline import run_import

    table = rows_of(semantix)
    repeat = list(table[3])  # record 3 again as record 11, with another title
    repeat[table[0].index("名称")] = "一种重复的记录"
    table.append(repeat)
    table.append(list(table[5]))  # record 5 again, unchanged: record 12
    path = write_csv(tmp_path / "dup.csv", table)
    assert rejections(parse(path)) == [] and len(records(parse(path))) == 12
    for run in (1, 2):
        job = run_import(store, path, options={"batch_size": 4})  # record 3 and 11 in different batches
        assert (job.inserted_count, job.merged_count, job.unchanged_count, job.rejected_count) == (
            (10, 1, 0, 1) if run == 1 else (0, 0, 11, 1))
        with store.session() as s:
            rej = s.scalars(select(m.ImportRejection).where(m.ImportRejection.job_id == job.id)).one()
            patent = s.scalars(select(m.Patent).where(m.Patent.app_number == "CN202121635235.X")).one()
            conflict = s.scalars(select(m.PatentConflict)).one()
            rows = s.scalar(select(func.count()).select_from(m.SourceRecord)
                            .where(m.SourceRecord.record_key == "CN202121635235.X"))
        assert (rej.code, rej.field, rej.record, rej.line) == ("duplicate_key", "申请号", 12, 13)
        assert rej.message_en.endswith("first seen at record 5")
        assert patent.title == semantix[2]["专利名称"] and rows == 2  # both rows kept
        assert (conflict.patent_id, conflict.field, conflict.kept, conflict.other) == (
            patent.id, "title", semantix[2]["专利名称"], "一种重复的记录")
        assert conflict.other_source.startswith("dup.csv#") and conflict.other_locator == "dup.csv:#11:line 12"
        assert conflict.import_job_id == (job.id if run == 1 else job.id - 1)


def test_xlsx_formula_and_check_digit_cells(tmp_path: Path, semantix: list[dict]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "申请号", "名称", "申请日", "申请（专利权）人"])
    for i, r in enumerate(semantix[:4], 1):
        ws.append([i, r["申请号"], r["专利名称"], dt.datetime.strptime(r["申请日"], "%Y%m%d"), r["申请人"]])
    ws["C3"] = '=CONCATENATE("一种","摄像头")'
    ws["B5"] = "CN202121635426.7"
    path = tmp_path / "f.xlsx"
    wb.save(path)
    items = parse(path)
    rej = rejections(items)
    # a formula is data: nothing evaluated; openpyxl stores no result, so the title is empty
    assert [(r.code, r.field, r.locator.cell, r.locator.line, r.locator.record) for r in rej] == [
        ("check_digit", "申请号", "B5", 5, 4)]
    recs = records(items)
    assert [r.app_number for r in recs] == ["CN202223220665.2", "CN202122975192.6", "CN202121635235.X"]
    assert recs[1].title is None and recs[1].raw["名称"] is None
    assert recs[0].app_date == dt.date(2022, 12, 2) and recs[2].patent_type == "utility_model"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SourceError) as exc:
        parse(tmp_path / "empty.csv")
    assert exc.value.rejection.code == "empty_file"


def test_mapping_file_for_an_unknown_layout(tmp_path: Path, semantix: list[dict]) -> None:
    rows = [["Patent No.", "Invention Title", "Filing Date", "Owner", "Owner Address", "Status", "Region"]]
    rows += [[r["申请号"], r["专利名称"], r["申请日"], r["申请人"], r["申请人地址"], r["法律状态"], "新疆;65"]
             for r in semantix[:3]]
    path = write_csv(tmp_path / "other.csv", rows)
    with pytest.raises(SourceError) as exc:
        parse(path)
    assert exc.value.rejection.code == "unmapped_columns"  # the columns no field takes are listed
    assert exc.value.rejection.params["unmapped"] == "Patent No.、Invention Title、Owner、Owner Address、Status、Region"
    mapping = tmp_path / "map.csv"
    mapping.write_text("source_column,field\nPatent No.,申请号\nInvention Title,title\nFiling Date,申请日\n"
                       "Owner,申请（专利权）人\nOwner Address,address\nStatus,法律状态\nRegion,国省代码\n",
                       encoding="utf-8")
    items = parse(path, mapping=str(mapping))
    recs = records(items)
    assert rejections(items) == [] and len(recs) == 3
    assert (recs[1].app_number, recs[1].title, recs[1].app_date) == (
        "CN202122975192.6", "一种可拍照便携式实时语音播报端测摄像头", dt.date(2021, 11, 30))
    assert recs[1].applicants[0].address == "河南省郑州市郑东新区中道东路6号创意岛大厦8层"
    assert recs[1].province_code == "65" and recs[1].status == "granted"
    bad = tmp_path / "bad.json"
    bad.write_text('{"Patent No.": "申请号", "Owner": "patent_owner_xyz"}', encoding="utf-8")
    with pytest.raises(SourceError) as exc:
        parse(path, mapping=str(bad))
    assert exc.value.rejection.code == "mapping" and "patent_owner_xyz" in exc.value.rejection.params["detail"]


def test_events_counts_status_and_province(tmp_path: Path, semantix: list[dict]) -> None:
    n = len(semantix)
    extra = {"转让日期": ["2023-05-06;2024-01-02"] + [""] * (n - 1), "许可日期": ["", "20220801"] + [""] * (n - 2),
             "质押日期": [""] * 2 + ["2022/03/04"] + [""] * (n - 3), "失效日期": ["0"] * 3 + ["20240101"] + [""] * (n - 4),
             "无效宣告日期": [""] * 4 + ["2023年7月8日"] + [""] * (n - 5),
             "合成数据": ["是 (synthetic, generated by xjip synth)"] + [""] * (n - 1)}  # xjip's demo-row marker
    table = rows_of(semantix, extra)
    table[1][table[0].index("转让次数")] = "2"
    table[5][table[0].index("国省代码")] = "新疆;65"
    table[4][table[0].index("法律状态")] = "无权-未缴年费"
    recs = records(parse(write_csv(tmp_path / "e.csv", table)))
    assert [(e.category, e.date) for e in recs[0].events] == [("transfer", dt.date(2023, 5, 6)),
                                                               ("transfer", dt.date(2024, 1, 2))]
    assert recs[0].transfer_count == 2
    assert [(e.category, e.date) for e in recs[1].events] == [("licence", dt.date(2022, 8, 1))]
    assert [(e.category, e.date) for e in recs[2].events] == [("pledge", dt.date(2022, 3, 4))]
    assert [(e.category, e.date) for e in recs[3].events] == [("lapse", dt.date(2024, 1, 1))]
    assert [(e.category, e.date) for e in recs[4].events] == [("invalidation", dt.date(2023, 7, 8))]
    assert recs[3].status == "lapsed" and recs[4].province_code == "65"
    assert [r.is_synthetic for r in recs[:3]] == [True, False, False]


@pytest.mark.parametrize("printed,status", [
    ("有权-审定授权", "granted"), ("授权", "granted"), ("有权-部分无效", "granted"), ("审中-实质审查", "pending"),
    ("公开", "pending"), ("无权-未缴年费", "lapsed"), ("失效", "lapsed"), ("无权-期限届满", "expired"),
    ("无权-驳回", "rejected"), ("无权-视为撤回", "withdrawn"), ("无权-全部无效", "invalidated"),
    ("无权-放弃", "lapsed"), ("审中-实质审查;有权-审定授权", "granted"), ("有权;无权-未缴年费", "lapsed"),
    ("PCT-有效期内", "pending"), ("", None),
])
def test_status_mapping(printed: str, status: str | None) -> None:
    assert cn_biblio.status_of(printed) == status


@pytest.mark.parametrize("value,code", [("河南(41)", "41"), ("新疆;65", "65"), ("650000", "65"),
                                        ("新疆维吾尔自治区", "65"), ("日本;JP", None)])
def test_province(value: str, code: str | None) -> None:
    assert cn_biblio.province_of(value) == code


def _dump_lines(shared_data: Path) -> list[str]:
    return gzip.decompress((shared_data / SQL).read_bytes()).decode("utf-8").splitlines(keepends=True)


def test_sql_syntax_error_rejects_one_statement(shared_data: Path, tmp_path: Path) -> None:
    lines = _dump_lines(shared_data)
    assert lines[92].startswith("INSERT INTO")  # line 93 = record 3
    lines[92] = lines[92].replace("'CN202121635235.X', ", "'CN202121635235.X' ", 1)  # a comma lost
    path = tmp_path / "broken.sql"
    path.write_text("".join(lines), encoding="utf-8")
    items = parse(path)
    rej = rejections(items)
    assert [(r.code, r.locator.line) for r in rej] == [("sql_syntax", 93)]
    assert "expected a value then ',' or ')'" in rej[0].params["detail"]
    recs = records(items)
    assert len(recs) == 9 and "CN202121635235.X" not in [r.app_number for r in recs]
    assert recs[2].app_number == "CN202121635426.6" and recs[2].locator.line == 94


def test_sql_multirow_values_escapes_and_column_lists(shared_data: Path, tmp_path: Path) -> None:
    dump = (
        "-- mysqldump-style, several rows per INSERT\n"
        "CREATE TABLE `p` (\n  `申请号` varchar(32),\n  `名称` text COMMENT '名称, 标题',\n"
        "  `申请人` text,\n  `申请日` int(11),\n  PRIMARY KEY (`申请号`)\n) ENGINE=InnoDB;\n"
        "INSERT INTO `p` VALUES ('CN202223220665.2','一种无人机机载多功能盒; \\'盒\\'','中科大数据研究院',20221202),\n"
        "('CN202122975192.6','It''s a \"camera\"\\nline two','中科大数据研究院;郑州大学',20211130);\n"
        "INSERT INTO p (`名称`, `申请号`, `申请(专利权)人`) VALUES ('大气质量监测系统', 'CN202121635426.6', 'A;B'),"
        " ('x', 'CN1', NULL);\n"
        "INSERT INTO `p` VALUES ('CN202121741650.3', 'too few');\n"
        "INSERT INTO `other` (`id`, `note`) VALUES (1, 'not a patent table');\n"
    )
    path = tmp_path / "multi.sql"
    path.write_text(dump, encoding="utf-8")
    items = parse(path)
    recs = records(items)
    assert [r.app_number for r in recs] == ["CN202223220665.2", "CN202122975192.6", "CN202121635426.6"]
    assert recs[0].title == "一种无人机机载多功能盒; '盒'"
    assert recs[1].title == "It's a \"camera\"\nline two"
    assert [p.name for p in recs[1].applicants] == ["中科大数据研究院", "郑州大学"]
    assert [p.name for p in recs[2].applicants] == ["A", "B"]
    assert [r.locator.line for r in recs] == [9, 10, 11]
    rej = rejections(items)
    assert [(r.code, r.locator.record, r.locator.line) for r in rej] == [
        ("bad_number", 4, 11), ("sql_syntax", 5, 12)]
    assert rej[0].field == "申请号" and rej[1].params["detail"] == "2 values for 4 columns"


def test_sql_dump_without_patent_table(tmp_path: Path) -> None:
    path = tmp_path / "t.sql"
    path.write_text("CREATE TABLE `t` (`id` int, `name` text);\nINSERT INTO `t` VALUES (1, 'a');\n", encoding="utf-8")
    with pytest.raises(SourceError) as exc:
        parse(path)
    assert exc.value.rejection.code == "missing_columns" and exc.value.rejection.locator.line == 2


def test_new_error_codes_are_in_the_catalogue() -> None:
    for lang in ("zh", "en"):
        for code in ("json_syntax", "sql_syntax", "formula", "mapping", "duplicate_key", "check_digit",
                     "missing_columns", "encoding", "empty_file", "missing_field", "bad_value"):
            assert f"import.error.{code}" in catalogue(lang), (lang, code)


def test_jsonl_views_give_the_same_records_as_the_dump_and_workbook(shared_data: Path) -> None:
    def key(r: PatentRecord) -> tuple:
        return (r.app_number, r.pub_number, r.grant_number, r.app_date, r.pub_date, r.grant_date, r.patent_type,
                r.title, r.abstract, r.claims, r.applicants, r.inventors, r.agency, r.agents, r.ipc, r.ipc_main,
                r.province_code, r.legal_status, r.status, r.transfer_count, r.events)

    for table, view in ((SQL, SEMANTIX_JSONL), (CNKI_XLSX, CNKI_JSONL)):
        source = src(shared_data / view)
        assert detect(source).name == "cn_biblio_jsonl"
        from_view = records(list(cn_biblio.jsonl_importer.parse(source, {})))
        assert [key(r) for r in from_view] == [key(r) for r in records(parse(shared_data / table))]


def test_sniff_reads_shared_strings_of_a_written_workbook(tmp_path: Path, semantix: list[dict]) -> None:
    wb = openpyxl.Workbook()
    for row in rows_of(semantix)[:3]:
        wb.active.append(row)
    wb.save(tmp_path / "p.xlsx")
    assert cn_biblio.importer.sniff((tmp_path / "p.xlsx").read_bytes()[:65536], "p.xlsx") >= 80


def test_jsonl_bad_line_is_rejected_and_the_rest_continue(shared_data: Path, tmp_path: Path) -> None:
    with gzip.open(shared_data / UNIFIED, "rt", encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(4)]
    lines[2] = lines[2][:40] + "\n"  # cut short
    path = tmp_path / "u.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    items = list(cn_biblio.jsonl_importer.parse(src(path), {}))
    assert [(r.code, r.locator.record, r.locator.line) for r in rejections(items)] == [("json_syntax", 3, 3)]
    assert [r.app_number for r in records(items)] == ["CN202223220665.2", "CN202122975192.6", "CN202121635426.6"]


def test_a_workbook_whose_data_sheet_comes_after_a_cover_sheet(tmp_path: Path, semantix: list[dict]) -> None:
    """Exports often open with a notes sheet: the data sheet after it is found, detected and read."""
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表由专利检索系统导出，仅供内部使用"])
    data = wb.create_sheet("检索结果")
    for row in rows_of(semantix):
        data.append(row)
    wb.save(tmp_path / "with_cover.xlsx")
    source = src(tmp_path / "with_cover.xlsx")
    assert detect(source).name == "cn_biblio"
    assert len(records(parse(tmp_path / "with_cover.xlsx"))) == len(semantix)


def test_an_unrecognised_workbook_is_described_by_its_first_rows(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["会议签到表"])
    wb.active.append(["姓名", "单位", "电话"])
    wb.save(tmp_path / "sign_in.xlsx")
    with pytest.raises(SourceError) as caught:
        detect(src(tmp_path / "sign_in.xlsx"))
    assert caught.value.rejection.code == "unknown_format"
    assert caught.value.rejection.params["detail"] == "Excel 工作簿（.xlsx） / Excel workbook (.xlsx): 会议签到表 | 姓名 单位 电话"
