"""The column names each patent search tool writes in its exports, and the field each maps to:
the one table the patent export importer (`cn_biblio`) reads headers with, documented in
docs/export_columns.md (written from this module: `python -m xjip.hub.importers._export_columns`,
checked by tests/hub/importers/test_export_columns.py).

A tool is recognised by its `markers`, headers no other tool writes ('链接到incoPat', 'Lens ID',
Patentics' '专利局'); its own names then take precedence over the common ones. A file whose
tool is not recognised is read with the common names plus every tool's names that mean the same
everywhere (`shared=False` marks the few that do not: Google's 'id', CNKI's '作者').

Sources of the names: the exports themselves (files of each kind in ../shared/data/patents/
real_exports and their README), and the tools' documented export layouts as other projects read
them (incoPat's and PatSnap's Chinese field lists, Lens.org's CSV header, Google Patents' CSV
with its "search URL" line above the header, Derwent Innovation's export). Field names are
those of `cn_biblio.build_record`; the extra ones below are kept in the row for the record
code that uses them (office, kind of publication, standardised applicant…).

Values a tool writes in its own way are read here too (`adapt`): Patentics and PatSnap separate
names with '|' and write a person 'Last; First'; Derwent writes IPC symbols compact
('G06Q003006' = G06Q 30/06) and CN application numbers with a kind letter ('CN201711214252A').
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Fields beyond cn_biblio's own, with what they hold. Kept in the row values; build_record uses
# the title/abstract/applicant/place ones as fall-backs, the others are for the record code.
EXTRA_FIELDS = {
    "office": "publishing office (CN, US, 中国…)",
    "pub_kind": "kind of publication in words or code (发明申请, A1)",
    "title_original": "title in the original language",
    "title_translated": "title translated into Chinese",
    "abstract_en": "English abstract",
    "abstract_original": "abstract in the original language",
    "abstract_translated": "abstract translated into Chinese",
    "applicants_std": "standardised applicant names",
    "first_applicant": "first applicant",
    "current_owner": "current owner (assignee)",
    "current_owner_std": "standardised current owner",
    "first_inventor": "first inventor",
    "applicant_province": "applicant's province (name)",
    "applicant_city": "applicant's prefecture or city",
    "applicant_county": "applicant's county or district",
    "legal_events": "legal events as printed",
    "earliest_priority_date": "earliest priority date",
    "first_pub_date": "date of first publication",
    "url": "link to the record in the tool",
    "document_type": "document type in words (Granted Patent…)",
}


@dataclass(frozen=True)
class Tool:
    key: str
    name_zh: str
    name_en: str
    columns: dict[str, str]  # header as the tool writes it → field
    markers: tuple[str, ...] = ()  # headers only this tool writes
    source: str = ""
    name_separator: str | None = None  # names separated by this alone ('Last; First' inside)
    not_shared: frozenset[str] = field(default_factory=frozenset)  # names that mean this only here


TOOLS: tuple[Tool, ...] = (
    Tool(
        "incopat", "incoPat", "incoPat",
        {"标题 (中文)": "title", "标题": "title", "标题 (英文)": "title_en", "标题(翻译)": "title_translated",
         "标题（小语种原文）": "title_original", "摘要 (中文)": "abstract", "摘要": "abstract",
         "摘要 (英文)": "abstract_en", "摘要(翻译)": "abstract_translated", "摘要（小语种原文）": "abstract_original",
         "申请人": "applicants", "标准化申请人": "applicants_std", "第一申请人": "first_applicant",
         "当前权利人": "current_owner", "标准化当前权利人": "current_owner_std", "申请人地址": "address",
         "申请人省市代码": "province", "中国申请人地市": "applicant_city", "中国申请人区县": "applicant_county",
         "公开（公告）号": "pub_number", "公开（公告）日": "pub_date", "申请号": "app_number", "申请日": "app_date",
         "公开类型": "pub_kind", "文献种类代码": "pub_kind", "专利类型": "patent_type", "公开国别": "office",
         "链接到incoPat": "url", "IPC主分类": "ipc_main", "IPC": "ipc", "CPC": "cpc", "发明人": "inventors",
         "第一发明人": "first_inventor", "代理机构": "agency", "代理人": "agents", "优先权信息": "priority",
         "优先权号": "priority", "优先权日": "priority_date", "最早优先权日": "earliest_priority_date",
         "PCT国际申请号": "pct_app_number", "首次公开日": "first_pub_date", "授权公告日": "grant_date",
         "失效日": "lapse_date", "首项权利要求": "claims", "当前法律状态": "legal_status", "法律状态": "legal_events",
         "简单同族": "family", "简单同族ID": "family_id", "引证专利": "citations", "转让次数": "transfer_count",
         "许可次数": "license_count", "质押次数": "pledge_count"},
        markers=("链接到incoPat", "标题 (中文)", "标题 (英文)", "摘要 (中文)", "摘要 (英文)", "公开国别", "标题（小语种原文）",
                 "中国申请人地市", "中国申请人区县", "申请人省市代码", "标准化当前权利人", "合享价值度"),
        source="incoPat 'download bibliographic items' (下载的著录项) workbook; real exports "
               "incopat_OpenAI_72.xlsx, incopat_福特INCO.xlsx; incoPat's field list as other projects read it",
    ),
    Tool(
        "patentics", "Patentics", "Patentics",
        {"Patentics": "pub_number", "公开号": "pub_number", "申请号": "app_number", "专利局": "office",
         "标题": "title", "摘要": "abstract", "申请人": "applicants", "标准申请人": "applicants_std",
         "标准化申请人": "applicants_std", "发明人": "inventors", "第一发明人": "first_inventor",
         "优先权日": "priority_date", "申请日": "app_date", "公开日": "pub_date", "公开-公告日": "pub_date",
         "授权公告日": "grant_date", "国际分类": "ipc", "国际主分类": "ipc_main", "CPC分类": "cpc",
         "专利类型": "patent_type", "法律状态": "legal_status", "申请人地址": "address", "地址": "address"},
        markers=("Patentics", "专利局", "国际主分类", "专利度", "独权度", "方法度", "特征度",
                 "本文引用专利数", "引用本文专利数", "技术特征", "CPC小类", "标准申请人"),
        source="Patentics CN and global exports, CSV and XLSX (a HYPERLINK formula in the publication number); "
               "real exports ptics_cn_*.csv/xlsx, ptics_global_LYFT.csv",
        name_separator="|",
    ),
    Tool(
        "patsnap", "智慧芽 PatSnap", "PatSnap",
        {"公开(公告)号": "pub_number", "申请号": "app_number", "申请日": "app_date", "公开(公告)日": "pub_date",
         "授权日": "grant_date", "标题": "title", "标题(译)(简体中文)": "title_translated", "摘要": "abstract",
         "摘要(译)(简体中文)": "abstract_translated", "申请(专利权)人": "applicants",
         "原始申请(专利权)人": "applicants", "[标]原始申请(专利权)人": "applicants_std",
         "当前申请(专利权)人": "current_owner", "[标]当前申请(专利权)人": "current_owner_std",
         "原始申请(专利权)人地址": "address", "当前申请(专利权)人地址": "address",
         "当前申请(专利权)人州/省": "applicant_province", "当前申请(专利权)人地市": "applicant_city",
         "当前申请(专利权)人区县": "applicant_county", "原始申请(专利权)人州/省": "applicant_province",
         "原始申请(专利权)人地市": "applicant_city", "原始申请(专利权)人区县": "applicant_county",
         "发明人": "inventors", "IPC分类号": "ipc", "IPC主分类号": "ipc_main", "CPC分类号": "cpc",
         "简单法律状态": "legal_status", "法律状态/事件": "legal_events", "受理局": "office", "专利类型": "patent_type",
         "[标]代理机构": "agency", "代理机构": "agency", "代理人": "agents", "优先权号": "priority",
         "优先权日": "priority_date", "最早优先权日": "earliest_priority_date", "简单同族": "family",
         "引用专利": "citations", "首项权利要求": "claims", "失效日": "lapse_date",
         "Publication Number": "pub_number", "Current Assignee": "current_owner",
         "[Standardized] Current Assignee": "current_owner_std", "Original Assignee": "applicants",
         "[Standardized] Original Assignee": "applicants_std", "Simple Legal Status": "legal_status",
         "Legal Status/Event": "legal_events", "Authority": "office"},
        markers=("[标]当前申请(专利权)人", "[标]原始申请(专利权)人", "当前申请(专利权)人", "原始申请(专利权)人", "受理局",
                 "法律状态/事件", "标题(译)(简体中文)", "摘要(译)(简体中文)", "Patsnap同族专利申请数量",
                 "IPC主分类号(小类)", "当前申请(专利权)人州/省", "[Standardized] Current Assignee"),
        source="PatSnap (智慧芽) Analytics export, Chinese and English field names as PatSnap lists them",
        name_separator="|",
    ),
    Tool(
        "derwent", "Derwent Innovation", "Derwent Innovation",
        {"公开号": "pub_number", "公开日期": "pub_date", "公开国家/地区代码": "office", "申请号": "app_number",
         "申请日期": "app_date", "标题 (原文)": "title_original", "标题 - DWPI": "title_en", "摘要 (原文)": "abstract_original",
         "摘要 - DWPI": "abstract_en", "专利权人/申请人": "applicants", "专利权人 - 原始": "applicants",
         "专利权人 - 标准化": "applicants_std", "专利权人/申请人 (首位)": "first_applicant", "发明人": "inventors",
         "第一发明人": "first_inventor", "IPC - 现版": "ipc", "CPC - 现版": "cpc", "优先权号": "priority",
         "优先权日": "priority_date", "INPADOC 同族专利成员": "family", "公开专利文献类型识别代码": "pub_kind",
         "失效/有效": "legal_status", "INPADOC 法律状态": "legal_events",
         "Publication Number": "pub_number", "Publication Date": "pub_date", "Publication Country Code": "office",
         "Publication Kind Code": "pub_kind", "Application Number": "app_number", "Application Date": "app_date",
         "Title": "title", "Title - DWPI": "title_en", "Title (English)": "title_en", "Abstract": "abstract",
         "Abstract - DWPI": "abstract_en", "Assignee/Applicant": "applicants", "Assignee - Original": "applicants",
         "Assignee - Standardized": "applicants_std", "Optimized Assignee": "applicants_std", "Inventor": "inventors",
         "IPC - Current": "ipc", "CPC - Current": "cpc", "Priority Number": "priority", "Priority Date": "priority_date",
         "INPADOC Family Members": "family", "INPADOC Legal Status": "legal_events"},
        markers=("DWPI 入藏号", "DWPI Accession Number", "标题 - DWPI", "Title - DWPI", "摘要 - DWPI", "Abstract - DWPI",
                 "专利权人/申请人", "Assignee/Applicant", "IPC - 现版", "IPC - Current", "公开国家/地区代码",
                 "DWPI 同族专利成员", "DWPI Family Members", "INPADOC 同族专利成员"),
        source="Derwent Innovation (Clarivate) patent export, Chinese and English interface; real export "
               "derwent_innovation_ti.xls (Excel 97-2003, export banner above the header)",
    ),
    Tool(
        "cnipa", "国家知识产权局专利检索及分析系统", "CNIPA patent search and analysis system",
        {"申请号": "app_number", "申请日": "app_date", "公开（公告）号": "pub_number", "公开（公告）日": "pub_date",
         "发明名称": "title", "IPC分类号": "ipc", "申请（专利权）人": "applicants", "发明人": "inventors",
         "优先权号": "priority", "优先权日": "priority_date", "申请人地址": "address", "CPC分类号": "cpc",
         "代理机构": "agency", "代理人": "agents"},
        source="CNIPA pss-system export (著录项目); the common names below cover it",
    ),
    Tool(
        "cnki", "中国知网 CNKI 专利", "CNKI patents",
        {"题名": "title", "Title-题名": "title", "作者": "inventors", "Author-作者": "inventors", "发明人": "inventors",
         "单位": "applicants", "Organ-单位": "applicants", "申请人": "applicants", "地址": "address", "申请号": "app_number",
         "申请日": "app_date", "公开号": "pub_number", "公开日": "pub_date", "主分类号": "ipc_main", "分类号": "ipc",
         "国省代码": "province", "代理机构": "agency", "代理人": "agents", "摘要": "abstract", "Summary-摘要": "abstract",
         "主权项": "claims", "专利类型": "patent_type"},
        markers=("SrcDatabase-来源库", "Title-题名", "题名"),
        source="CNKI (中国知网) patent database export; the CNKI scrape's own names (title, author, com, href…) "
               "are read by cn_biblio's CNKI layout",
        not_shared=frozenset({"作者", "Author-作者", "单位", "Organ-单位"}),
    ),
    Tool(
        "soopat", "SooPAT", "SooPAT",
        {"申请号": "app_number", "申请日": "app_date", "名称": "title", "公开(公告)号": "pub_number",
         "公开(公告)日": "pub_date", "主分类号": "ipc_main", "分类号": "ipc", "申请(专利权)人": "applicants",
         "发明(设计)人": "inventors", "地址": "address", "国省代码": "province", "摘要": "abstract", "主权项": "claims",
         "专利代理机构": "agency", "代理人": "agents"},
        source="SooPAT export (CNIPA-style names with half-width brackets); the common names cover it",
    ),
    Tool(
        "baiten", "佰腾网", "Baiten",
        {"专利名称": "title", "申请号": "app_number", "申请日": "app_date", "公开号": "pub_number", "公开日": "pub_date",
         "授权公告号": "grant_number", "授权公告日": "grant_date", "申请人": "applicants", "发明人": "inventors",
         "主分类号": "ipc_main", "分类号": "ipc", "摘要": "abstract", "主权项": "claims", "申请人地址": "address",
         "代理机构": "agency", "代理人": "agents", "法律状态": "legal_status", "专利类型": "patent_type",
         "国省代码": "province"},
        source="Baiten (佰腾) export; the common names cover it",
    ),
    Tool(
        "lens", "Lens.org", "Lens.org",
        {"Display Key": "pub_number", "Jurisdiction": "office", "Kind": "pub_kind", "Publication Date": "pub_date",
         "Application Number": "app_number", "Application Date": "app_date", "Priority Numbers": "priority",
         "Earliest Priority Date": "earliest_priority_date", "Title": "title", "Abstract": "abstract",
         "Applicants": "applicants", "Inventors": "inventors", "Owners": "current_owner", "URL": "url",
         "Document Type": "document_type", "CPC Classifications": "cpc", "IPCR Classifications": "ipc",
         "Simple Family Members": "family", "Legal Status": "legal_status"},
        markers=("Lens ID", "Display Key", "Jurisdiction", "Simple Family Members", "IPCR Classifications",
                 "Cited by Patent Count", "Extended Family Members"),
        source="Lens.org patent search CSV export (multiple values separated by ';;')",
    ),
    Tool(
        "google", "Google Patents", "Google Patents",
        {"id": "pub_number", "title": "title", "assignee": "applicants", "inventor/author": "inventors",
         "priority date": "earliest_priority_date", "filing/creation date": "app_date",
         "publication date": "pub_date", "grant date": "grant_date", "result link": "url"},
        markers=("result link", "representative figure link", "inventor/author", "filing/creation date"),
        source="Google Patents 'Download (CSV)': a 'search URL:' line, then the header; ids such as "
               "US-11544688-B2",
        not_shared=frozenset({"id"}),
    ),
)

# Common names: the CNIPA search system's, and what most Chinese tools share (cn_biblio's own
# generic table holds the rest); English ones other tools and hand-made lists use.
COMMON_EXTRA = {
    "标题 (原文)": "title_original", "Title": "title", "Abstract": "abstract", "Publication Number": "pub_number",
    "Publication Date": "pub_date", "Application Number": "app_number", "Application Date": "app_date",
    "Applicants": "applicants", "Applicant": "applicants", "Assignee": "applicants", "Inventors": "inventors",
    "Inventor": "inventors", "IPC": "ipc", "CPC": "cpc", "Priority Number": "priority", "Priority Date": "priority_date",
    "Grant Date": "grant_date", "Legal Status": "legal_status", "Current Assignee": "current_owner",
    "申请人地市": "applicant_city", "申请人区县": "applicant_county", "标准化申请人": "applicants_std",
    "第一申请人": "first_applicant", "第一发明人": "first_inventor", "公开类型": "pub_kind",
}

BY_KEY = {tool.key: tool for tool in TOOLS}


def _normalise(text: str) -> str:
    from xjip.hub.importers._tabular import normalise_header

    return normalise_header(text)


def shared_columns() -> dict[str, str]:
    """Every tool's names that mean the same field wherever they appear (header → field);
    a name two tools map to different fields is left to the tool's own layout."""
    seen: dict[str, str] = {}
    clash: set[str] = set()
    names: dict[str, str] = {}
    for tool in TOOLS:
        for header, target in tool.columns.items():
            if header in tool.not_shared:
                continue
            key = _normalise(header)
            if key in seen and seen[key] != target:
                clash.add(key)
            seen.setdefault(key, target)
            names.setdefault(header, target)
    for header, target in COMMON_EXTRA.items():
        names.setdefault(header, target)
    return {h: f for h, f in names.items() if _normalise(h) not in clash}


def markers() -> frozenset[str]:
    """Normalised headers that only a patent export has (every tool's markers)."""
    return frozenset(_normalise(m) for tool in TOOLS for m in tool.markers)


def recognise(header: list[str]) -> Tool | None:
    """The tool whose markers the header holds most of (at least one), if any."""
    norm = {_normalise(h) for h in header if h}
    best, best_hits = None, 0
    for tool in TOOLS:
        hits = len(norm & {_normalise(m) for m in tool.markers})
        if hits > best_hits:
            best, best_hits = tool, hits
    return best


# --- values a tool writes in its own way -----------------------------------------------

_COMPACT_CLASS = re.compile(r"^([A-HY]\d{2}[A-Z])(\d{4})(\d{2,6})$")
_CN_APP_KIND = re.compile(r"^((?:CN|ZL)?\s*(?:\d{12}|\d{8})(?:\.?[\dX])?)[A-Z]\d?$", re.I)
_NAME_FIELDS = ("applicants", "applicants_std", "inventors", "current_owner", "current_owner_std")
_CLASS_FIELDS = ("ipc", "ipc_main", "cpc")


def compact_class(symbol: str) -> str:
    """'G06Q003006' → 'G06Q30/06', 'G07G00010081' → 'G07G1/0081' (Derwent's compact IPC/CPC:
    subclass, 4-digit main group, subgroup); anything else unchanged. The 14-character form
    of WIPO ST.8 is `numbers.canonical_ipc`'s."""
    m = _COMPACT_CLASS.match(symbol.strip())
    if not m or len(symbol.strip()) == 14:
        return symbol
    return f"{m.group(1)}{int(m.group(2))}/{m.group(3)}"


def adapt(values: dict[str, Any], tool: Tool | None) -> dict[str, Any]:
    """Row values as the common field parsers expect them (in place; returned)."""
    for name in _CLASS_FIELDS:
        v = values.get(name)
        if v.__class__ is str and "/" not in v and _COMPACT_CLASS.match(v.split("|")[0].split(";")[0].strip()):
            values[name] = " | ".join(compact_class(p.strip()) for p in re.split(r"[|;,]", v) if p.strip())
    app = values.get("app_number")
    if app.__class__ is str and app[-1:].isalpha():
        m = _CN_APP_KIND.match(app.strip())
        if m:
            values["app_number"] = m.group(1)  # a kind letter appended to a CN application number
    if tool is not None and tool.name_separator:
        sep = tool.name_separator
        for name in _NAME_FIELDS:
            v = values.get(name)
            if v.__class__ is str and (sep in v or ";" in v):
                values[name] = [p.strip().replace(";", ",") for p in v.split(sep) if p.strip()]
    return values


# --- the documentation -----------------------------------------------------------------

def markdown() -> str:
    """docs/export_columns.md."""
    out = ["# Column names of patent exports / 各检索工具导出的列名", "",
           "Written from `xjip/hub/importers/_export_columns.py` (`python -m xjip.hub.importers._export_columns "
           "> docs/export_columns.md`); a test checks the two agree. The patent export importer (`cn_biblio`) "
           "recognises a tool by its marker columns and reads its names first; a file of an unknown tool is read "
           "with the common names (cn_biblio's table) and every name below that means the same in every tool. "
           "Headers are compared without spaces, punctuation and full-width/half-width differences. "
           "Columns no field takes are listed on the job page, where staff map them (the mapping is saved and used "
           "again for the next file with the same header), or with `xjip import --mapping FILE`.", ""]
    for tool in TOOLS:
        out += [f"## {tool.name_en} / {tool.name_zh}", "", tool.source + ".", ""]
        if tool.markers:
            out += ["Recognised by: " + ", ".join(f"`{m}`" for m in tool.markers) + ".", ""]
        if tool.name_separator:
            out += [f"Names are separated by `{tool.name_separator}`; a person is written `Last; First`.", ""]
        out += ["| column | field |", "|---|---|"]
        out += [f"| `{h}` | `{f}` |" for h, f in tool.columns.items()]
        out.append("")
    out += ["## Fields beyond the record's own", "", "| field | holds |", "|---|---|"]
    out += [f"| `{f}` | {text} |" for f, text in EXTRA_FIELDS.items()]
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
