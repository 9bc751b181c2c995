"""Every spreadsheet an office has, read whole, and what cannot be read said plainly: workbooks
written the ways the tools and offices write them (built here from the tools' documented layouts,
byte by byte where openpyxl would write them differently), the real Derwent .xls read in place,
and the bad inputs of issue 9 (a password-protected xlsx, an HTML page named .xls that is no
table, a header over two merged rows, a CSV whose encoding changes halfway)."""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from xjip.hub import models as m
from xjip.hub.importers import _export_columns, _tabular, cn_biblio
from xjip.hub.importers.base import Source, detect, iter_sources
from xjip.hub.pipeline import run_import
from xjip.hub.records import PatentRecord, Rejection, SourceError

DERWENT_XLS = "patents/real_exports/cn_export/derwent_innovation_ti.xls"


def src(path: Path) -> Source:
    return next(iter_sources(path))


def parse(path: Path, **options: Any) -> list:
    return list(cn_biblio.importer.parse(src(path), dict(options)))


def records(items: list) -> list[PatentRecord]:
    return [i for i in items if isinstance(i, PatentRecord)]


def rejections(items: list) -> list[Rejection]:
    return [i for i in items if isinstance(i, Rejection)]


# --- a workbook written by hand, as exporters write them -------------------------------------

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
       'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
       'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
       'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
       'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
       '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
         '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
       'main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name='
       '"下载的著录项1" sheetId="1" r:id="rId3"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId4" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            '</Relationships>')


def _col(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def hand_xlsx(path: Path, rows: list[list[Any]], *, shared: bool = False, dimension: str = "A1",
              strings_first: bool = False, padding: int = 0) -> Path:
    """An xlsx as incoPat/Patentics servers write it: inline strings (or shared ones), a wrong
    <dimension>, formulas as ('f', text, stored result or None); `strings_first` puts a shared
    string table of `padding` extra strings before the sheet in the zip (Excel's re-save order)."""
    import hashlib

    strings: list[str] = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(padding)]  # incompressible
    body = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{_col(c)}{r}"
            if value is None:
                continue
            if isinstance(value, tuple):
                _, formula, cached = value
                v = "" if cached is None else f"<v>{html.escape(str(cached))}</v>"
                cells.append(f'<c r="{ref}" t="str"><f>{html.escape(formula)}</f>{v}</c>')
            elif isinstance(value, (int, float)):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif shared:
                strings.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{html.escape(value)}</t></is></c>')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{"".join(body)}</sheetData></worksheet>')
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
           f'main" count="{len(strings)}" uniqueCount="{len(strings)}">'
           + "".join(f"<si><t>{html.escape(s)}</t></si>" for s in strings) + "</sst>")
    members = [("[Content_Types].xml", _CT), ("_rels/.rels", _RELS), ("xl/workbook.xml", _WB),
               ("xl/_rels/workbook.xml.rels", _WB_RELS)]
    pair = [("xl/sharedStrings.xml", sst), ("xl/worksheets/sheet1.xml", sheet)]
    members += pair if strings_first else pair[::-1]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members:
            zf.writestr(name, text)
    return path


INCOPAT = ["序号", "标题 (中文)", "标题 (英文)", "摘要 (中文)", "申请人", "公开（公告）号", "公开（公告）日", "申请号", "申请日",
           "公开类型", "专利类型", "公开国别", "链接到incoPat", "IPC主分类", "标准化申请人", "中国申请人地市", "中国申请人区县", "IPC"]


def incopat_row(n: int, app: str, pub: str, title: str, applicant: str) -> list[Any]:
    return [float(n), title, "A test title", f"本发明涉及{title}。", applicant, pub, "2023-04-14 00:00:00", app,
            "2022-10-08 00:00:00", "发明申请", "发明申请", "中国", f"到incoPat中查看_x000D_\n{pub}", "B60L53/66",
            f"[{applicant}]", "乌鲁木齐市", "天山区", "B60L53/66; G06N3/04"]


def test_an_incopat_download_with_a_wrong_dimension_and_its_names(tmp_path: Path) -> None:
    path = hand_xlsx(tmp_path / "inco.xlsx", [INCOPAT,
                                              incopat_row(1, "CN202211224208.2", "CN115958995A", "车辆服务辅助", "新疆大学"),
                                              incopat_row(2, "CN202211220557.7", "CN115959032A", "照明系统", "石河子大学")])
    assert detect(src(path)).name == "cn_biblio"
    header = _tabular.header_of(src(path), aliases=cn_biblio.ALIASES)
    assert _export_columns.recognise(header).key == "incopat"
    items = parse(path)
    assert rejections(items) == []
    first, second = records(items)
    assert (first.app_number, first.pub_number, first.title, first.title_en) == (
        "CN202211224208.2", "CN115958995A", "车辆服务辅助", "A test title")
    assert first.abstract == "本发明涉及车辆服务辅助。" and first.ipc == ["B60L53/66", "G06N3/04"]
    assert (first.app_date, first.pub_date) == (dt.date(2022, 10, 8), dt.date(2023, 4, 14))
    assert first.applicants[0].name == "新疆大学" and first.applicants[0].address == "乌鲁木齐市天山区"
    assert first.raw["链接到incoPat"] == "到incoPat中查看\r\nCN115958995A"  # _x000D_ is a carriage return
    assert second.locator.line == 3 and second.applicants[0].name == "石河子大学"


def test_detection_reads_the_workbook_not_a_byte_window(tmp_path: Path) -> None:
    """A re-saved workbook stores a large shared-string table before its sheet (7,552 incoPat
    rows: 2 MB of strings first); the first 64 KiB then hold no row at all."""
    rows = [INCOPAT] + [incopat_row(i, "CN202211224208.2", f"CN1159{i:05d}A", f"标题{i}", "福特全球技术公司")
                        for i in range(1, 4)]
    path = hand_xlsx(tmp_path / "resaved.xlsx", rows, shared=True, strings_first=True, padding=9000)
    assert path.stat().st_size > 3 * 64 * 1024
    assert _tabular.head_rows(path.read_bytes()[:64 * 1024]) == []  # what a byte window sees
    assert detect(src(path)).name == "cn_biblio"
    assert len(records(parse(path))) == 3


def test_patentics_hyperlinks_names_and_padded_ipc(tmp_path: Path) -> None:
    """Patentics writes the publication number as HYPERLINK(url, number): the stored result
    when WPS/Excel saved one, else the display text; nothing evaluated."""
    url = "https://www.patentics.cn/invokexml.do?sx=showpatent_cn&amp;spn=CN217161623U"
    header = ["公开号", "申请号", "专利局", "标题", "申请人", "标准申请人", "发明人", "申请日", "公开-公告日", "国际分类",
              "国际主分类", "专利类型", "法律状态"]
    rows = [header,
            [("f", f'HYPERLINK("{url}","CN217161623U")', "CN217161623U"), "CN202220035483.9", "CN", "一种货架",
             "广州斑马智行科技有限公司", "广州斑马智行科技有限公司", "罗文红", "2022/01/07", "2022/08/12",
             "A47F  5/10|A47F  7/00", "A47F  5/10", "实用新型", "有效"],
            [("f", 'HYPERLINK("https://www.patentics.cn/x","US11544688B2")', None), "US16/911133", "US",
             "Predictive inventory management", "Lyft, Inc.", "lyft", "Baren; Trent | Greenwood; Luke George",
             "20200624", "20230103", "G06Q 20/18 | G07C  9/00", "G06Q", "发明授权", "有效"],
            [("f", "SUM(1,2)", None), "CN202010746892.5", "CN", "显示方法", "斑马智行网络(香港)有限公司", "", "罗凯 |\n李进",
             "2020/07/29", "2022/02/25", "G06F  3/04845", "G06F  3/04845", "发明公布", "公开"]]
    path = hand_xlsx(tmp_path / "ptics.xlsx", rows, dimension="A1:M4")
    items = parse(path)
    assert rejections(items) == []
    cn, us, third = records(items)
    assert cn.pub_number == "CN217161623U" and cn.ipc == ["A47F5/10", "A47F7/00"] and cn.ipc_main == "A47F5/10"
    assert us.pub_number == "US11544688B2" and us.app_number == "US16911133"  # canonical (numbers.canonical_app)  # display text, no stored result
    assert us.inventors == ["Baren, Trent", "Greenwood, Luke George"]  # '|' separates, 'Last; First' inside
    assert us.ipc_main == "G06Q20/18"  # a subclass alone names the first full symbol in it
    assert third.pub_number is None and third.app_number == "CN202010746892.5"  # SUM(…) has no stored result
    assert third.inventors == ["罗凯", "李进"] and third.status == "pending"


def test_html_table_saved_as_xls(tmp_path: Path, store) -> None:  # noqa: ANN001
    """What many Chinese systems call an Excel export: an HTML table in GBK, with a banner row,
    a merged title cell, line breaks and entities."""
    page = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
            '<table border="1"><tr><td colspan="5">专利检索结果（共 2 条）</td></tr>'
            '<tr><th>申请号</th><th>名称</th><th>申请人</th><th>申请日</th><th>公开（公告）号</th></tr>'
            '<tr><td>CN202223220665.2</td><td>一种无人机&amp;机载<br>多功能盒</td><td rowspan="2">新疆大学</td>'
            '<td>2022-12-02</td><td>CN218751475U</td></tr>'
            '<tr><td>CN202122975192.6</td><td>一种摄像头</td><td>2021-11-30</td><td>CN216774847U</td></tr>'
            '</table></body></html>')
    path = tmp_path / "检索结果.xls"
    path.write_bytes(page.encode("gbk"))
    assert detect(src(path)).name == "cn_biblio"
    first, second = records(parse(path))
    assert first.title == "一种无人机&机载\n多功能盒" and first.applicants[0].name == "新疆大学"
    assert (second.app_number, second.app_date, second.pub_number) == (
        "CN202122975192.6", dt.date(2021, 11, 30), "CN216774847U")
    assert second.applicants == []  # the cell a rowspan covers is empty, as in a spreadsheet: columns kept
    assert second.raw["申请日"] == "2021-11-30" and second.locator.line == 4
    job = run_import(store, path)
    assert job.status == "done" and job.inserted_count == 2


def test_an_html_page_named_xls_that_is_no_table(tmp_path: Path, store) -> None:  # noqa: ANN001
    good = tmp_path / "good.csv"
    good.write_text("公开（公告）号,申请号,名称\nCN218751475U,CN202223220665.2,一种无人机机载多功能盒\n", encoding="utf-8")
    assert run_import(store, good).inserted_count == 1
    path = tmp_path / "export.xls"
    path.write_bytes("<!DOCTYPE html><html><head><title>登录</title></head><body><p>会话已过期，请重新登录</p>"
                     "</body></html>".encode("utf-8"))
    job = run_import(store, path)
    assert job.status == "failed" and job.error["code"] == "html_no_table"
    assert job.error["locator"] == "export.xls"
    assert "HTML page saved as .xls but holds no table" in job.error["message_en"]
    assert "保存为 .xls 的 HTML 表格" in job.error["message_zh"]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Patent)) == 1  # nothing stored before is lost


def test_xml_spreadsheet_2003(tmp_path: Path) -> None:
    ns = 'xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"'
    doc = f'''<?xml version="1.0" encoding="UTF-8"?><?mso-application progid="Excel.Sheet"?>
<Workbook {ns}><Worksheet ss:Name="说明"><Table><Row><Cell><Data ss:Type="String">导出说明</Data></Cell></Row></Table></Worksheet>
<Worksheet ss:Name="专利"><Table>
<Row><Cell><Data ss:Type="String">申请号</Data></Cell><Cell><Data ss:Type="String">名称</Data></Cell>
<Cell><Data ss:Type="String">申请日</Data></Cell><Cell><Data ss:Type="String">公开号</Data></Cell><Cell><Data ss:Type="String">申请人</Data></Cell></Row>
<Row><Cell><Data ss:Type="String">CN202223220665.2</Data></Cell><Cell><Data ss:Type="String">一种无人机</Data></Cell>
<Cell><Data ss:Type="DateTime">2022-12-02T00:00:00.000</Data></Cell>
<Cell ss:Formula='=HYPERLINK("http://x.invalid","CN218751475U")'/><Cell><Data ss:Type="String">新疆大学</Data></Cell></Row>
<Row><Cell><Data ss:Type="String">CN202122975192.6</Data></Cell><Cell ss:Index="3"><Data ss:Type="DateTime">2021-11-30T00:00:00.000</Data></Cell>
<Cell ss:Formula="=A3"><Data ss:Type="String">CN216774847U</Data></Cell></Row>
</Table></Worksheet></Workbook>'''
    path = tmp_path / "export.xls"
    path.write_text(doc, encoding="utf-8")
    assert detect(src(path)).name == "cn_biblio"
    first, second = records(parse(path))
    assert (first.app_number, first.title, first.app_date, first.pub_number) == (
        "CN202223220665.2", "一种无人机", dt.date(2022, 12, 2), "CN218751475U")
    assert second.title is None and second.app_date == dt.date(2021, 11, 30)  # ss:Index skipped the title cell
    assert second.pub_number == "CN216774847U"  # a formula's stored result
    attack = tmp_path / "attack.xls"
    attack.write_text(doc.replace('<?mso-application progid="Excel.Sheet"?>',
                                  '<!DOCTYPE Workbook [<!ENTITY x "xx">]>').replace("一种无人机", "&x;"), encoding="utf-8")
    with pytest.raises(SourceError) as exc:
        parse(attack)
    assert exc.value.rejection.code == "xml_entities_forbidden"


def test_the_real_derwent_xls_is_read_in_place(shared_data: Path) -> None:
    """Excel 97-2003 (BIFF8) from Derwent Innovation: an export banner above the header, DWPI's
    compact IPC symbols and application numbers with a kind letter."""
    path = shared_data / DERWENT_XLS
    assert detect(src(path)).name == "cn_biblio"
    items = parse(path)
    recs = records(items)
    assert rejections(items) == [] and len(recs) == 68
    first = recs[0]
    assert (first.pub_number, first.app_number, first.pub_date) == ("CN108053582A", "CN201711214252.4",
                                                                  dt.date(2018, 5, 18))
    assert first.locator.line == 3 and first.title.startswith("An artificial intelligent shopping")
    assert first.ipc[:3] == ["G07G1/00", "G05D1/02", "G07C9/00"]  # 'G07G000100 | G05D000102 | …'
    assert all(r.applicants and r.title for r in recs)


def test_a_password_protected_workbook_says_so(tmp_path: Path, store) -> None:  # noqa: ANN001
    """An OOXML workbook encrypted with a password is a CFB container holding EncryptionInfo and
    EncryptedPackage (MS-OFFCRYPTO); encrypted here the way Excel does it."""
    from msoffcrypto.format.ooxml import OOXMLFile

    wb = openpyxl.Workbook()
    wb.active.append(["申请号", "名称"])
    wb.active.append(["CN202223220665.2", "一种无人机机载多功能盒"])
    plain = io.BytesIO()
    wb.save(plain)
    plain.seek(0)
    path = tmp_path / "保密.xlsx"
    with open(path, "wb") as out:
        OOXMLFile(plain).encrypt("secret", out)
    good = tmp_path / "good.csv"
    good.write_text("公开（公告）号,申请号,名称\nCN216774847U,CN202122975192.6,一种摄像头\n", encoding="utf-8")
    assert run_import(store, good).inserted_count == 1
    job = run_import(store, path)
    assert job.status == "failed" and job.error["code"] == "password_protected"
    assert job.error["locator"] == "保密.xlsx"
    assert "password-protected Excel workbook" in job.error["message_en"]
    assert "加密（设有密码）的 Excel 工作簿" in job.error["message_zh"]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Patent)) == 1
    from xjip.cli import main

    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "cli"), "import", str(path), "--quiet"])
    assert result.exit_code == 1 and "password-protected" in result.output


def test_a_header_over_two_merged_rows(tmp_path: Path) -> None:
    """Group labels merged across the columns above, single labels merged down over both rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["专利检索结果"])
    ws.append(["名称", "申请", None, "公开（公告）", None, "申请（专利权）人"])
    ws.append([None, "号", "日", "号", "日", None])
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:C2")
    ws.merge_cells("D2:E2")
    ws.merge_cells("F2:F3")
    ws.append(["一种无人机机载多功能盒", "CN202223220665.2", "2022-12-02", "CN218751475U", "2023-03-28", "新疆大学"])
    path = tmp_path / "merged.xlsx"
    wb.save(path)
    (rec,) = records(parse(path))
    assert (rec.title, rec.app_number, rec.app_date, rec.pub_number, rec.pub_date) == (
        "一种无人机机载多功能盒", "CN202223220665.2", dt.date(2022, 12, 2), "CN218751475U", dt.date(2023, 3, 28))
    assert rec.applicants[0].name == "新疆大学" and rec.locator.line == 4
    # the same split over labels no field knows: a located error naming what is missing
    ws["B2"], ws["D2"] = "甲", "乙"
    wb.save(path)
    with pytest.raises(SourceError) as exc:
        parse(path)
    assert exc.value.rejection.code == "unmapped_columns" and exc.value.rejection.locator.line is not None
    assert "申请号" in exc.value.rejection.params["columns"]


def _mixed_csv(path: Path, first: str, then: str) -> Path:
    from xjip.hub.numbers import cn_check_digit

    rows = ["公开（公告）号,申请号,名称,申请人"] + [
        f"CN2187{i:05d}U,CN20222{i:07d}.{cn_check_digit(f'20222{i:07d}')},一种新疆特色装置{i},新疆大学" for i in range(3000)]
    head = "\n".join(rows[:1500]) + "\n"
    tail = "\n".join(rows[1500:]) + "\n"
    path.write_bytes(head.encode(first) + tail.encode(then))
    return path


@pytest.mark.parametrize(("first", "then"), [("gbk", "utf-8"), ("utf-8", "gbk")])
def test_a_csv_whose_encoding_changes_halfway(tmp_path: Path, store, first: str, then: str) -> None:  # noqa: ANN001
    """The rows before the change are stored, the error names the line and both encodings; the
    rest is not read as mojibake (GB18030 decodes UTF-8 bytes without complaint)."""
    path = _mixed_csv(tmp_path / f"mixed_{first}.csv", first, then)
    job = run_import(store, path, options={"batch_size": 100})
    assert job.status == "failed" and job.error["code"] == "encoding_changed"
    assert job.error["locator"] == f"{path.name}:line 1501"
    assert ("GB18030/GBK to UTF-8" if first == "gbk" else "UTF-8 to GB18030/GBK") in job.error["message_en"]
    assert "文件编码在此行" in job.error["message_zh"]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Patent)) >= 1400
        assert s.scalar(select(func.count()).select_from(m.Patent).where(m.Patent.title.like("%鐗%"))) == 0


def test_lens_and_google_patents_csv(tmp_path: Path) -> None:
    lens = tmp_path / "lens-export.csv"
    with open(lens, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["#", "Jurisdiction", "Kind", "Display Key", "Lens ID", "Publication Date", "Publication Year",
                    "Application Number", "Application Date", "Priority Numbers", "Earliest Priority Date", "Title",
                    "Abstract", "Applicants", "Inventors", "Owners", "URL", "Document Type", "IPCR Classifications",
                    "CPC Classifications", "Simple Family Members", "Legal Status"])
        w.writerow(["1", "US", "B2", "US 11544688 B2", "000-111-222-333-444", "2023-01-03", "2023", "US 16/911133",
                    "2020-06-24", "US 16/911133", "2020-06-24", "Predictive inventory management", "A system…",
                    "LYFT INC;;OTHER CO", "BAREN TRENT;;GREENWOOD LUKE GEORGE", "LYFT INC", "https://lens.org/x",
                    "Granted Patent", "G06Q20/18;;G07C9/00", "G06Q20/18", "US 11544688 B2", "ACTIVE"])
    (rec,) = records(parse(lens))
    assert (rec.pub_number, rec.app_number, rec.app_date) == ("US11544688B2", "US16911133", dt.date(2020, 6, 24))
    assert [p.name for p in rec.applicants] == ["LYFT INC", "OTHER CO"] and rec.ipc == ["G06Q20/18", "G07C9/00"]
    google = tmp_path / "gp-search.csv"
    with open(google, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["search URL:", "https://patents.google.com/?assignee=%E6%96%B0%E7%96%86%E5%A4%A7%E5%AD%A6"])
        w.writerow(["id", "title", "assignee", "inventor/author", "priority date", "filing/creation date",
                    "publication date", "grant date", "result link", "representative figure link"])
        w.writerow(["CN-115438209-A", "一种图像识别方法", "新疆大学", "张三", "2022-09-01", "2022-09-01", "2022-12-06", "",
                    "https://patents.google.com/patent/CN115438209A/zh", ""])
    assert detect(src(google)).name == "cn_biblio"
    (rec,) = records(parse(google))
    assert (rec.pub_number, rec.title, rec.app_date, rec.pub_date) == (
        "CN115438209A", "一种图像识别方法", dt.date(2022, 9, 1), dt.date(2022, 12, 6))
    assert rec.applicants[0].name == "新疆大学" and rec.locator.line == 3


def test_patsnap_names_and_bilingual_headers(tmp_path: Path) -> None:
    path = tmp_path / "patsnap.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["序号", "公开(公告)号", "申请号", "标题", "摘要", "[标]当前申请(专利权)人", "当前申请(专利权)人州/省",
                    "当前申请(专利权)人地市", "当前申请(专利权)人区县", "发明人", "IPC分类号", "简单法律状态", "Summary-摘要"])
        w.writerow(["1", "CN115438209A", "CN202211064813.8", "一种图像识别方法", "", "新疆大学 | 新疆农业大学",
                    "新疆维吾尔自治区", "乌鲁木齐市", "沙依巴克区", "张三 | 李四", "G06V10/82 | G06N3/04", "审中", "摘要文本"])
    (rec,) = records(parse(path))
    assert [p.name for p in rec.applicants] == ["新疆大学", "新疆农业大学"]
    assert rec.applicants[0].address == "新疆维吾尔自治区乌鲁木齐市沙依巴克区" and rec.province_code == "65"
    assert rec.abstract == "摘要文本" and rec.status == "pending" and rec.ipc == ["G06V10/82", "G06N3/04"]


def test_headerless_file_mapped_by_position_from_the_command_line(tmp_path: Path, store) -> None:  # noqa: ANN001
    from xjip.cli import main

    data = tmp_path / "bare.csv"
    data.write_text("CN202223220665.2,一种无人机机载多功能盒,新疆大学\nCN202122975192.6,一种摄像头,石河子大学\n",
                    encoding="utf-8")
    mapping = tmp_path / "map.json"
    mapping.write_text('{"#1": "app_number", "#2": "title", "#3": "申请人"}', encoding="utf-8")
    result = CliRunner().invoke(main, ["--database-url", store.settings.database_url, "import", str(data),
                                       "--mapping", str(mapping), "--quiet", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"inserted": 2' in result.output  # the first row is data too
    with store.session() as s:
        assert s.scalar(select(m.Patent.title).where(m.Patent.app_number == "CN202122975192.6")) == "一种摄像头"
    bad = tmp_path / "bad.csv"
    bad.write_text("#1,app_number\n#2,no_such_field\n", encoding="utf-8")
    with pytest.raises(SourceError) as exc:
        parse(data, mapping=str(bad))
    assert exc.value.rejection.code == "mapping" and "'#2'" in exc.value.rejection.params["detail"]


def test_a_csv_cell_holding_a_hyperlink_formula_shows_its_text(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text('公开号,名称\n"=HYPERLINK(""https://x.invalid/?a=1"",""CN218751475U"")",一种装置\n'
                    '"=cmd|\' /C calc\'!A0",另一种装置\n', encoding="utf-8")
    first, second = parse(path)
    assert first.pub_number == "CN218751475U"
    assert isinstance(second, Rejection) and second.code == "bad_number"  # other formula text is data, never run


def test_the_documented_table_is_the_module(tmp_path: Path) -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "export_columns.md"
    assert doc.read_text(encoding="utf-8") == _export_columns.markdown()
    generic = {_tabular.normalise_header(h) for h in cn_biblio.GENERIC_ALIASES}
    clashing = [(t.key, mk) for t in _export_columns.TOOLS for mk in t.markers if _tabular.normalise_header(mk) in generic]
    assert clashing == []  # a marker a CNIPA export also writes would mistake one tool for another
    fields = set(cn_biblio.FIELDS)
    assert {f for t in _export_columns.TOOLS for f in t.columns.values()} <= fields


def test_a_file_that_is_no_table_says_what_it_is(tmp_path: Path) -> None:
    """Never a wrong diagnosis such as an encoding error: a PDF saved where the export was."""
    path = tmp_path / "专利清单.xls"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n" + bytes(range(256)) * 4)
    with pytest.raises(SourceError) as exc:
        detect(src(path))
    assert exc.value.rejection.code == "not_a_table" and exc.value.rejection.params["kind"] == "PDF"
