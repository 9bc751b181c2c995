"""The shared CSV/TSV/XLSX reader, on the real CNKI workbook and on CSVs written from the real
PatentSemantix rows (records_original_columns.jsonl.gz) in several encodings."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import openpyxl
import pytest

from xjip.hub.importers import _tabular as tab
from xjip.hub.importers.base import Source, iter_sources
from xjip.hub.records import Rejection, SourceError

SMALL = "patents/cn_patent_records_small"
CNKI_XLSX = f"{SMALL}/cnki_zhiwang_zhuanli_nlp/MaterialChemistry_18_19.xlsx"
CNKI_JSONL = f"{SMALL}/cnki_zhiwang_zhuanli_nlp/records.jsonl.gz"
SEMANTIX_JSONL = f"{SMALL}/patentsemantix/records_original_columns.jsonl.gz"

ALIASES = {"申请号": "app_number", "公开（公告）号": "pub_number", "名称": "title", "专利名称": "title",
           "申请（专利权）人": "applicants", "申请人": "applicants", "申请日": "app_date", "摘要": "abstract"}
# header in the file → key of the real JSON row
COLUMNS = {"公开（公告）号": "公开号", "申请号": "申请号", "申请日": "申请日", "名称": "专利名称", "摘要": "申请摘要",
           "申请（专利权）人": "申请人", "申请人地址": "申请人地址", "法律状态": "法律状态"}


def jsonl(shared_data: Path, rel: str) -> list[dict]:
    with gzip.open(shared_data / rel, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def src(path: Path) -> Source:
    return next(iter_sources(path))


def write_csv(path: Path, rows: list[list[str]], encoding: str, delimiter: str = ",") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="module")
def semantix(shared_data: Path) -> list[dict]:
    return jsonl(shared_data, SEMANTIX_JSONL)


def table(semantix: list[dict], header: list[str] | None = None) -> list[list[str]]:
    header = header or list(COLUMNS)
    keys = [COLUMNS[h.replace("(", "（").replace(")", "）").replace(" ", "")] for h in header]
    return [header] + [[r[k] for k in keys] for r in semantix]


def test_real_xlsx_rows_cells_and_header(shared_data: Path) -> None:
    source = src(shared_data / CNKI_XLSX)
    assert tab.header_of(source) == ["title", "author", "com", "public", "sql", "quote", "download", "href",
                                     "ChDiv_summary", "claim_text"]
    aliases = {"title": "title", "author": "inventors", "com": "applicants", "href": "href", "sql": "app_date"}
    rows = list(tab.iter_rows(source, required={"title", "href"}, aliases=aliases))
    expected = jsonl(shared_data, CNKI_JSONL)
    assert len(rows) == 33 and all(isinstance(r, tab.Row) for r in rows)
    first = rows[0]
    assert first.locator.file == "MaterialChemistry_18_19.xlsx"
    assert (first.locator.record, first.locator.line) == (1, 2)
    assert first.values["title"] == "地下防污屏障材料化学相容性测试装置及方法"
    assert first.values["inventors"] == "李育超;于泽溪;魏璐璐;黄根清"
    assert first.values["app_date"] == "2018-07-30"
    assert first.raw["ChDiv_summary"] == expected[0]["ChDiv_summary"]
    assert first.cell_of("href") == "H2" and first.column_of("applicants") == "com"
    assert [r.values["title"] for r in rows] == [e["title"] for e in expected]
    assert rows[-1].locator.line == 34 and rows[15].values["applicants"] == "航天资源循环科技有限公司;中国科学院过程工程研究所"


def test_head_rows_reads_the_xlsx_header_from_the_first_bytes(shared_data: Path) -> None:
    head = (shared_data / CNKI_XLSX).read_bytes()[:64 * 1024]
    rows = tab.head_rows(head)
    assert rows[0][:3] == ["title", "author", "com"] and rows[1][2] == "浙江大学"
    assert tab.head_rows(b"\x00\xff" * 100) == []


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8", "utf-16"])
def test_csv_encodings_parse_identically(tmp_path: Path, semantix: list[dict], encoding: str) -> None:
    reference = list(tab.iter_rows(src(write_csv(tmp_path / "ref.csv", table(semantix), "utf-8")),
                                   aliases=ALIASES, required={"title"}))
    path = write_csv(tmp_path / f"p_{encoding}.csv", table(semantix), encoding)
    rows = list(tab.iter_rows(src(path), aliases=ALIASES, required={"title"}))
    assert [(r.values, r.raw, r.locator.line) for r in rows] == [(r.values, r.raw, r.locator.line) for r in reference]
    assert len(rows) == 10
    assert rows[0].values["app_number"] == "CN202223220665.2"
    assert rows[0].values["applicants"] == "中科大数据研究院"
    assert rows[0].raw["申请人地址"] == "450000河南省郑州市郑东新区中道东路6号创意岛大厦8层"
    assert list(rows[0].raw)[0] == "公开（公告）号"  # the BOM is not part of the first header


def test_headers_normalised_full_and_half_width(tmp_path: Path, semantix: list[dict]) -> None:
    header = ["公开(公告)号", " 申请号 ", "名 称", "申请(专利权)人"]
    rows = list(tab.iter_rows(src(write_csv(tmp_path / "h.csv", table(semantix, header), "utf-8")),
                              aliases=ALIASES, required={"app_number", "title"}))
    assert rows[1].values == {"pub_number": "CN216774847U", "app_number": "CN202122975192.6",
                              "title": "一种可拍照便携式实时语音播报端测摄像头", "applicants": "中科大数据研究院"}
    assert rows[1].column_of("applicants") == "申请(专利权)人"
    assert tab.normalise_header("申请（专利权）人") == tab.normalise_header("申请(专利权)人") == "申请专利权人"
    assert tab.normalise_header("ＩＰＣ 分类号") == "ipc分类号"


def test_tsv_multiline_record_lines_and_preamble(tmp_path: Path, semantix: list[dict]) -> None:
    rows_in = table(semantix)[:4]
    rows_in[1][4] = "第一行\n第二行\n第三行"  # abstract spanning 3 physical lines
    path = tmp_path / "t.tsv"
    body = io.StringIO(newline="")
    body.write("检索式：申请人=(中科大数据研究院)\n\n")  # a database's preamble above the table
    csv.writer(body, delimiter="\t", lineterminator="\n").writerows(rows_in)
    path.write_bytes(body.getvalue().encode("utf-8"))
    rows = list(tab.iter_rows(src(path), aliases=ALIASES, required={"title"}))
    assert [r.locator.line for r in rows] == [4, 7, 8]
    assert [r.locator.record for r in rows] == [1, 2, 3]
    assert rows[0].values["abstract"] == "第一行\n第二行\n第三行"
    assert rows[1].values["app_number"] == "CN202122975192.6"
    assert tab.header_of(src(path), aliases=ALIASES)[:2] == ["公开（公告）号", "申请号"]


def test_duplicate_headers_first_non_empty_wins(tmp_path: Path) -> None:
    rows = [["申请号", "名称", "专利名称"], ["CN202223220665.2", "", "一种无人机机载多功能盒"],
            ["CN202122975192.6", "标题一", "标题二"]]
    got = list(tab.iter_rows(src(write_csv(tmp_path / "d.csv", rows, "utf-8")), aliases=ALIASES))
    assert got[0].values["title"] == "一种无人机机载多功能盒" and got[0].column_of("title") == "专利名称"
    assert got[1].values["title"] == "标题一" and got[1].column_of("title") == "名称"


def test_wrong_encoding_is_located(tmp_path: Path, semantix: list[dict]) -> None:
    # Latin-1 mojibake: not UTF-8 and not GB18030 ('é' followed by ',' is no GB18030 pair).
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("申请号,名称\n".encode("utf-8") + "CN1,Société Générale é,café\n".encode("latin-1"))
    with pytest.raises(SourceError) as exc:
        list(tab.iter_rows(src(latin), aliases=ALIASES))
    assert exc.value.rejection.code == "encoding"
    assert exc.value.rejection.locator.line == 2
    # random bytes
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(4000)))
    with pytest.raises(SourceError) as exc:
        list(tab.iter_rows(src(noise)))
    assert exc.value.rejection.code == "encoding" and exc.value.rejection.locator.line is not None


def test_encoding_error_mid_file_after_good_rows(tmp_path: Path, semantix: list[dict]) -> None:
    # UTF-8 for 60 KB+ (what detection samples), then one line in GBK: rows before it come through.
    rows_in = table(semantix)
    lines = [",".join(rows_in[0][:4])]
    while sum(len(x.encode()) for x in lines) < 70_000:
        r = rows_in[1 + len(lines) % 10]
        lines.append(",".join([r[0], f"CN2022{len(lines):08d}", r[2], r[3].replace(",", " ")]))
    data = "\n".join(lines).encode("utf-8") + "\nCN1,CN2,20230101,中文标题\n".encode("gbk")
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    got, err = [], None
    try:
        for row in tab.iter_rows(src(path), aliases=ALIASES):
            got.append(row)
    except SourceError as exc:
        err = exc.rejection
    assert err is not None and err.code == "encoding_changed" and err.locator.line == len(lines) + 1
    assert err.params == {"before": "UTF-8", "after": "GB18030/GBK"}
    assert len(got) == len(lines) - 1


def test_xlsx_formula_cells_are_data(tmp_path: Path, semantix: list[dict]) -> None:
    """A formula is never evaluated: a HYPERLINK without a stored result shows its display text,
    another formula without one is empty (openpyxl stores no results)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["申请号", "名称", "申请日", "申请（专利权）人"])
    for r in semantix[:3]:
        ws.append([r["申请号"], r["专利名称"], dt.datetime.strptime(r["申请日"], "%Y%m%d"), r["申请人"]])
    ws["D3"] = '=HYPERLINK("http://example.invalid/?a=1,2","x, y")'
    ws["B4"] = '=CONCATENATE("一种","摄像头")'
    path = tmp_path / "f.xlsx"
    wb.save(path)
    items = list(tab.iter_rows(src(path), aliases=ALIASES, required={"title"}))
    assert [type(i).__name__ for i in items] == ["Row", "Row", "Row"]
    assert items[1].values["applicants"] == "x, y" and items[1].cell_of("applicants") == "D3"
    assert "title" not in items[2].values and items[2].raw["名称"] is None
    assert items[0].values["app_date"] == dt.date(2022, 12, 2)  # an Excel date cell
    assert items[2].values["app_number"] == "CN202121635235.X" and items[2].locator.line == 4


def test_empty_sources(tmp_path: Path) -> None:
    for name, data in (("e.csv", b""), ("w.csv", b"\xef\xbb\xbf\r\n \r\n")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SourceError) as exc:
            list(tab.iter_rows(src(tmp_path / name)))
        assert exc.value.rejection.code == "empty_file"
    wb = openpyxl.Workbook()
    wb.save(tmp_path / "e.xlsx")
    with pytest.raises(SourceError) as exc:
        list(tab.iter_rows(src(tmp_path / "e.xlsx")))
    assert exc.value.rejection.code == "empty_file"
    (tmp_path / "h.csv").write_text("申请号,名称\n", encoding="utf-8")
    assert list(tab.iter_rows(src(tmp_path / "h.csv"), aliases=ALIASES, required={"title"})) == []


def test_missing_columns_lists_the_original_names(tmp_path: Path, semantix: list[dict]) -> None:
    path = write_csv(tmp_path / "m.csv", table(semantix, ["申请日", "摘要"]), "utf-8")
    with pytest.raises(SourceError) as exc:
        list(tab.iter_rows(src(path), aliases=ALIASES, required={"app_number|pub_number", "title"}))
    rej = exc.value.rejection
    assert rej.code == "missing_columns" and rej.locator.line == 1
    assert rej.params["columns"] == "申请号/公开（公告）号、名称"


def test_a_damaged_ole_file_says_what_it_is(tmp_path: Path) -> None:
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(SourceError) as exc:
        list(tab.iter_rows(src(tmp_path / "old.xls")))
    assert exc.value.rejection.code == "workbook_unreadable"
    assert exc.value.rejection.params["kind_en"] == "Office 97-2003 file (not a workbook)"


def test_load_mapping_json_csv_and_errors(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"Patent No.": "app_number", "Title": "名称"}', encoding="utf-8")
    assert tab.load_mapping(tmp_path / "m.json") == {"Patent No.": "app_number", "Title": "名称"}
    (tmp_path / "l.json").write_text('[{"source_column": "Owner", "field": "applicants"}]', encoding="utf-8")
    assert tab.load_mapping(tmp_path / "l.json") == {"Owner": "applicants"}
    (tmp_path / "m.csv").write_bytes("source_column,field\n专利号,申请号\n标题,名称\n".encode("gbk"))
    assert tab.load_mapping(tmp_path / "m.csv") == {"专利号": "申请号", "标题": "名称"}
    cases = {
        "bad.json": ('{"a": "b",\n "c": }', 2),
        "bad.csv": ("source_column,field\n专利号,申请号\n标题,名称,多余\n", 3),
        "none.json": ("{}", None),
        "list.json": ('["a", "b"]', None),
    }
    for name, (text, line) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(SourceError) as exc:
            tab.load_mapping(tmp_path / name)
        assert exc.value.rejection.code == "mapping", name
        assert exc.value.rejection.locator.line == line, name
    with pytest.raises(SourceError) as exc:
        tab.load_mapping(tmp_path / "missing.json")
    assert exc.value.rejection.code == "mapping"
