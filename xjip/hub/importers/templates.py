"""Downloadable import templates (CSV / XLSX, Chinese headers) for every kind of right that has
no office bulk format: trademarks, GIs, GI special-mark users, copyright registrations, plant
varieties, transfers/licences, pledges, enforcement cases and service institutions.

One declarative `TemplateSpec` per kind drives everything: the file the web page offers for
download (`write_template`), the importer that reads it back (`tpl_<kind>`, registered here) and
the validation of each value. A column's `field` is an attribute of the record dataclass in
`xjip.hub.records`; ``owners.address`` means "the address of the first Party in `owners`",
``transliterations.pinyin`` a key of that dict.

Layout of a template
  XLSX: first sheet = Chinese headers (required ones end with ``*``) + drop-downs for enumerations;
        second sheet ``说明`` = one row per column: header, English, field, required, type, allowed values.
  CSV:  UTF-8 with BOM (Excel opens it as UTF-8); row 1 = English comment row (first cell starts
        with ``#``; skipped on import as a preamble), row 2 = Chinese headers, data from row 3.

Headers are matched after `_tabular.normalise_header` (full-width/half-width, spaces, brackets
and ``*`` do not matter), against the Chinese header, its aliases, the English header and the field name.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from xjip.hub.importers._tabular import Row, head_rows, iter_rows, normalise_header
from xjip.hub.importers.base import Source, parse_date, register, split_multi
from xjip.hub.importers.trademark_status import split_status
from xjip.hub.numbers import canonical_cn_app
from xjip.hub.records import (
    BaseRecord,
    CaseRecord,
    CopyrightRecord,
    GIMarkUserRecord,
    GIRecord,
    InstitutionRecord,
    ItemStream,
    Locator,
    Party,
    PlantVarietyRecord,
    PledgeRecord,
    RecordError,
    Rejection,
    TrademarkRecord,
    TransactionRecord,
)
from xjip.i18n import t

TYPES = ("text", "date", "partial_date", "int", "float", "list", "parties", "enum")


@dataclass(frozen=True)
class Choice:
    """One allowed value of an enumeration: stored `value`, Chinese and English labels, aliases."""

    value: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    field: str  # record attribute; "a.b" = attribute b of the first Party in list a, or key b of dict a
    zh: str
    en: str
    required: bool = False
    type: str = "text"
    choices: tuple[Choice, ...] = ()
    aliases: tuple[str, ...] = ()
    check: str | None = None  # extra validation, see CHECKS
    role: str | None = None  # Party.role for type "parties"
    note_zh: str = ""
    note_en: str = ""
    # text → (normalised value, text as printed): the printed text goes to `<field>_text`.
    split: Callable[[str], tuple[Any, str | None]] | None = None

    @property
    def header(self) -> str:
        """The header written in the template: Chinese, '*' when required."""
        return self.zh + ("*" if self.required else "")


@dataclass(frozen=True)
class TemplateSpec:
    kind: str
    zh: str
    en: str
    record: type[BaseRecord]
    columns: tuple[Column, ...]
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def importer_name(self) -> str:
        return f"tpl_{self.kind}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.field == name)

    def aliases(self) -> dict[str, str]:
        """Every accepted header → field (the Chinese header first: it is what a missing column is called)."""
        out: dict[str, str] = {}
        for c in self.columns:
            for alias in (c.zh, c.header, *c.aliases, c.en, c.field):
                if "." in alias and alias == c.field:
                    continue
                out.setdefault(alias, c.field)
        return out

    def required(self) -> set[str]:
        return {c.field for c in self.columns if c.required}


# --- shared vocabularies ---------------------------------------------------------------

RIGHT_TYPES = (
    Choice("patent", "专利", "Patent", ("专利权",)),
    Choice("trademark", "商标", "Trademark", ("商标权", "注册商标")),
    Choice("copyright", "著作权", "Copyright", ("版权", "软件著作权", "作品著作权")),
    Choice("plant_variety", "植物新品种", "Plant variety", ("植物新品种权", "品种权")),
    Choice("gi", "地理标志", "Geographical indication", ("GI",)),
    Choice("ic_layout", "集成电路布图设计", "IC layout design", ("布图设计",)),
    Choice("trade_secret", "商业秘密", "Trade secret"),
    Choice("other", "其他", "Other"),
)

# The GI systems of China (see the data README of /gi): code values as in xinjiang_gi_records.csv.
GI_SYSTEMS = (
    Choice("PGI_product", "地理标志保护产品", "Protected GI product", ("地理标志产品", "原产地域产品")),
    Choice("GI_certification_TM", "地理标志证明商标", "GI certification mark"),
    Choice("GI_collective_TM", "地理标志集体商标", "GI collective mark"),
    Choice("GI_TM_unspecified", "地理标志商标", "GI trademark (type not stated)"),
    Choice("AGI", "农产品地理标志", "Agricultural product GI", ("农产品地理标志登记",)),
    Choice("GI_unspecified", "地理标志（未注明类型）", "GI (system not stated)", ("地理标志",)),
)


SPECS: dict[str, TemplateSpec] = {}


def _spec(spec: TemplateSpec) -> TemplateSpec:
    SPECS[spec.kind] = spec
    return spec


_spec(TemplateSpec("trademark", "商标", "Trademarks", TrademarkRecord, (
    Column("app_number", "申请号", "Application number", True,
           aliases=("申请/注册号", "注册/申请号", "商标申请号", "申请号/注册号")),
    Column("word_element", "商标名称", "Mark", True, aliases=("商标", "商标文字", "名称"),
           note_zh="图形商标填写“图形”", note_en="write 图形 for a purely figurative mark"),
    Column("nice_classes", "国际分类", "Nice classes", True, "list", check="nice",
           aliases=("类别", "国际分类号", "商品类别", "类号"), note_zh="1–45，多个用;分隔", note_en="1–45, several separated by ;"),
    Column("owners", "申请人/注册人", "Applicant or owner", True, "parties", role="applicant",
           aliases=("申请人", "注册人", "商标注册人", "申请人名称", "权利人"), note_zh="多个用;分隔",
           note_en="several separated by ;"),
    Column("owners.address", "申请人地址", "Applicant address", aliases=("注册人地址", "地址")),
    Column("reg_number", "注册号", "Registration number", aliases=("商标注册号", "注册证号")),
    Column("office", "国家/地区", "Office", aliases=("商标局", "国家"), check="country",
           note_zh="两位国家代码，空白即CN", note_en="two-letter code; blank means CN"),
    Column("app_date", "申请日期", "Application date", type="date", aliases=("申请日",)),
    Column("reg_date", "注册日期", "Registration date", type="date", aliases=("注册日", "注册公告日期")),
    Column("expiry_date", "专用权期限截止日", "Expiry date", type="date",
           aliases=("专用期限截止日", "专用权到期日", "到期日", "有效期至")),
    Column("mark_kind", "商标类型", "Mark kind", type="enum", choices=(
        Choice("ordinary", "普通商标", "Ordinary mark", ("普通", "商品商标", "服务商标", "individual")),
        Choice("collective", "集体商标", "Collective mark", ("集体",)),
        Choice("certification", "证明商标", "Certification mark", ("证明",)),
        Choice("gi", "地理标志商标", "GI mark", ("地理标志证明商标", "地理标志集体商标", "地理标志")),
    )),
    Column("mark_feature", "商标形式", "Mark feature", type="enum", choices=(
        Choice("word", "文字", "Word", ("文字商标",)),
        Choice("figurative", "图形", "Figurative", ("图形商标",)),
        Choice("combined", "组合", "Combined", ("图文组合", "文字图形组合", "组合商标")),
        Choice("3d", "立体", "Three-dimensional", ("三维标志", "立体商标")),
        Choice("colour", "颜色组合", "Colour", ("颜色", "color")),
        Choice("sound", "声音", "Sound", ("声音商标",)),
        Choice("other", "其他", "Other"),
    )),
    Column("similar_groups", "类似群", "Similar groups", type="list", check="similar_group",
           aliases=("类似群组", "类似群号"), note_zh="四位数字，如0901", note_en="four digits, e.g. 0901"),
    Column("goods", "商品/服务项目", "Goods and services", aliases=("商品服务", "指定商品", "商品/服务", "商品服务项目")),
    Column("agent", "代理机构", "Agency", aliases=("代理人", "商标代理机构")),
    Column("status", "商标状态", "Status", aliases=("状态", "法律状态"), split=split_status,
           note_zh="照登记簿原文填写，如“已注册”“初审公告”", note_en="as the register prints it, e.g. Registered"),
    Column("status_date", "状态日期", "Status date", type="date"),
    Column("transliterations.pinyin", "拼音", "Pinyin"),
    Column("transliterations.en", "英文", "English"),
    Column("transliterations.ug", "维吾尔文", "Uyghur", aliases=("维文",)),
), defaults={"office": "CN"}))

_spec(TemplateSpec("gi", "地理标志", "Geographical indications", GIRecord, (
    Column("name", "地理标志名称", "GI name", True, aliases=("名称", "产品名称", "保护产品名称")),
    Column("gi_system", "保护类型", "GI system", True, "enum", GI_SYSTEMS, aliases=("地理标志类型", "类型")),
    Column("status", "状态", "Status"),
    Column("category", "产品类别", "Product category", aliases=("类别",)),
    Column("protected_area_text", "保护范围", "Protected area", aliases=("地域范围", "保护地域范围", "产地范围")),
    Column("region_codes", "区划代码", "Region codes", type="list", check="region_code",
           aliases=("行政区划代码", "县市代码"), note_zh="6位行政区划代码，多个用;分隔",
           note_en="6-digit GB/T 2260 codes, several separated by ;"),
    Column("authority", "批准机关", "Approving authority", aliases=("批准单位", "发布机关", "登记机关")),
    Column("announcement_no", "公告号", "Announcement no.", aliases=("批准公告号", "公告编号")),
    Column("approval_date", "批准日期", "Approval date", type="partial_date", aliases=("批准时间", "登记日期"),
           note_zh="可只填年或年月（如2011、2013-01）", note_en="a year or year-month (2011, 2013-01) is accepted"),
    Column("standard", "标准", "Standard", aliases=("产品标准", "质量技术要求")),
    Column("applicant", "申请人/持有人", "Applicant or holder", aliases=("申请人", "持有人", "注册人", "证书持有人")),
    Column("registration_no", "注册号/证书号", "Registration or certificate no.",
           aliases=("商标注册号", "登记证书编号", "证书编号")),
    Column("nice_class", "商标类别", "Nice class", check="nice", aliases=("国际分类",)),
    Column("confidence", "可信度", "Confidence", type="enum", choices=(
        Choice("high", "高", "High"), Choice("medium", "中", "Medium"), Choice("low", "低", "Low"))),
    Column("source_url", "来源链接", "Source URL", aliases=("来源", "网址", "链接")),
    Column("notes", "备注", "Notes"),
)))

_spec(TemplateSpec("gi_mark_user", "地理标志专用标志使用企业", "GI special-mark users", GIMarkUserRecord, (
    Column("gi_name", "地理标志名称", "GI name", True, aliases=("地理标志产品名称", "产品名称")),
    Column("user_name", "企业名称", "Enterprise name", True, aliases=("用标企业", "使用企业", "企业", "单位名称")),
    Column("gi_system", "保护类型", "GI system", type="enum", choices=GI_SYSTEMS, aliases=("地理标志类型",)),
    Column("credit_code", "统一社会信用代码", "Unified social credit code", check="credit_code",
           aliases=("信用代码", "社会信用代码")),
    Column("address", "企业地址", "Address", aliases=("地址", "住所")),
    Column("approved_date", "核准日期", "Approval date", type="date", aliases=("核准使用日期", "批准日期")),
    Column("revoked_date", "注销日期", "Revocation date", type="date", aliases=("撤销日期",)),
    Column("announcement_no", "公告号", "Announcement no.", aliases=("公告编号",)),
)))

_spec(TemplateSpec("copyright", "著作权登记", "Copyright registrations", CopyrightRecord, (
    Column("reg_number", "登记号", "Registration number", True, aliases=("登记编号", "证书号")),
    Column("kind", "登记类型", "Registration kind", True, "enum", (
        Choice("works", "作品", "Work", ("作品登记", "作品著作权")),
        Choice("software", "计算机软件", "Software", ("软件", "软件著作权", "计算机软件著作权")),
    )),
    Column("title", "作品/软件名称", "Title", True, aliases=("作品名称", "软件名称", "名称")),
    Column("owners", "著作权人", "Copyright owner", True, "parties", role="owner",
           aliases=("著作权人/申请人", "权利人"), note_zh="多个用;分隔", note_en="several separated by ;"),
    Column("owners.address", "著作权人地址", "Owner address", aliases=("地址",)),
    Column("category", "作品类别", "Category", aliases=("类别",)),
    Column("authors", "作者", "Authors", type="list", aliases=("开发者",)),
    Column("completion_date", "创作完成日期", "Completion date", type="date", aliases=("开发完成日期", "完成日期")),
    Column("first_publication_date", "首次发表日期", "First publication date", type="date", aliases=("发表日期",)),
    Column("reg_date", "登记日期", "Registration date", type="date", aliases=("登记日",)),
)))

_spec(TemplateSpec("plant_variety", "植物新品种", "Plant varieties", PlantVarietyRecord, (
    Column("app_number", "申请号", "Application number", True, aliases=("品种权申请号",)),
    Column("name", "品种名称", "Variety name", True, aliases=("名称",)),
    Column("applicants", "申请人/品种权人", "Applicant or holder", True, "parties", role="applicant",
           aliases=("申请人", "品种权人"), note_zh="多个用;分隔", note_en="several separated by ;"),
    Column("applicants.address", "申请人地址", "Applicant address", aliases=("地址",)),
    Column("grant_number", "品种权号", "Grant number", aliases=("授权号",)),
    Column("species", "属或者种", "Genus or species", aliases=("作物种类", "属种", "植物种属")),
    Column("breeders", "培育人", "Breeders", type="list", aliases=("育种者",)),
    Column("app_date", "申请日", "Application date", type="date", aliases=("申请日期",)),
    Column("grant_date", "授权日", "Grant date", type="date", aliases=("授权日期",)),
    Column("status", "状态", "Status", aliases=("法律状态",)),
)))

_spec(TemplateSpec("transaction", "专利转让/许可/开放许可", "Transfers and licences", TransactionRecord, (
    Column("kind", "交易类型", "Transaction kind", True, "enum", (
        Choice("transfer", "转让", "Transfer", ("权利转让", "专利权转让", "assignment")),
        Choice("licence", "许可", "Licence", ("实施许可", "许可使用", "license")),
        Choice("open_licence", "开放许可", "Open licence", ("open license",)),
    )),
    Column("right_type", "权利类型", "Right type", True, "enum", RIGHT_TYPES),
    Column("right_number", "专利号/注册号", "Right number", True, check="right_number",
           aliases=("专利号", "商标注册号", "权利号", "专利申请号")),
    Column("from_party", "让与人/许可人", "Assignor or licensor", aliases=("让与人", "转让人", "许可人", "出让人")),
    Column("to_party", "受让人/被许可人", "Assignee or licensee", aliases=("受让人", "被许可人")),
    Column("to_address", "受让人地址", "Assignee address", aliases=("被许可人地址",)),
    Column("licence_type", "许可类型", "Licence type", type="enum", choices=(
        Choice("exclusive", "独占", "Exclusive", ("独占许可", "独占实施许可")),
        Choice("sole", "排他", "Sole", ("排他许可", "排他实施许可")),
        Choice("ordinary", "普通", "Ordinary", ("普通许可", "普通实施许可", "non-exclusive")),
    )),
    Column("date", "生效日期", "Effective date", type="date", aliases=("备案日期", "合同生效日", "转让日期", "许可日期")),
    Column("end_date", "终止日期", "End date", type="date", aliases=("合同终止日", "到期日期")),
    Column("amount_wan", "金额（万元）", "Amount (10k CNY)", type="float", aliases=("合同金额", "交易金额", "金额")),
    Column("record_number", "备案号", "Record number", aliases=("合同备案号",)),
)))

_spec(TemplateSpec("pledge", "知识产权质押", "IP pledges", PledgeRecord, (
    Column("reg_number", "质押登记号", "Registration number", True, aliases=("登记号", "登记编号")),
    Column("right_type", "权利类型", "Right type", True, "enum", RIGHT_TYPES),
    Column("right_numbers", "专利号/注册号", "Right numbers", True, "list", check="right_number",
           aliases=("专利号", "商标注册号", "权利号"), note_zh="多个用;分隔", note_en="several separated by ;"),
    Column("pledgor", "出质人", "Pledgor", True, aliases=("出质人名称",)),
    Column("pledgee", "质权人", "Pledgee", True, aliases=("质权人名称",)),
    Column("pledgor_address", "出质人地址", "Pledgor address"),
    Column("amount_wan", "质押金额（万元）", "Amount (10k CNY)", type="float",
           aliases=("担保金额", "融资金额", "金额")),
    Column("reg_date", "登记日期", "Registration date", type="date", aliases=("质押登记日", "生效日期")),
    Column("end_date", "到期日期", "End date", type="date", aliases=("质押期限截止日", "解除日期")),
    Column("status", "状态", "Status", aliases=("质押状态",)),
)))

_spec(TemplateSpec("case", "执法/司法案件", "Enforcement cases", CaseRecord, (
    Column("case_number", "案号", "Case number", True, aliases=("案件编号", "立案号", "文书号")),
    Column("kind", "案件类型", "Case kind", True, "enum", (
        Choice("administrative", "行政", "Administrative", ("行政执法", "行政裁决", "行政处罚")),
        Choice("civil", "民事", "Civil", ("民事诉讼",)),
        Choice("criminal", "刑事", "Criminal", ("刑事诉讼",)),
        Choice("mediation", "调解", "Mediation", ("人民调解", "纠纷调解")),
        Choice("arbitration", "仲裁", "Arbitration"),
    )),
    Column("right_type", "权利类型", "Right type", type="enum", choices=RIGHT_TYPES),
    Column("cause", "案由", "Cause"),
    Column("plaintiffs", "原告/权利人", "Plaintiffs or right holders", type="list",
           aliases=("原告", "权利人", "投诉人", "请求人", "申请人")),
    Column("defendants", "被告/当事人", "Defendants or parties", type="list",
           aliases=("被告", "当事人", "被请求人", "被投诉人", "被申请人")),
    Column("authority", "办案机关/法院", "Authority or court", aliases=("办案机关", "法院", "审理法院", "执法机关")),
    Column("address", "地址", "Address", aliases=("案发地", "当事人地址")),
    Column("accepted_date", "受理日期", "Accepted date", type="date", aliases=("立案日期", "收案日期")),
    Column("closed_date", "结案日期", "Closed date", type="date", aliases=("判决日期", "处罚日期")),
    Column("result", "处理结果", "Result", aliases=("判决结果", "处罚结果", "裁判结果")),
    Column("amount_wan", "金额（万元）", "Amount (10k CNY)", type="float",
           aliases=("罚没金额", "判赔金额", "赔偿金额", "金额")),
)))

_spec(TemplateSpec("institution", "服务机构与代理机构", "Service institutions and agencies", InstitutionRecord, (
    Column("name", "机构名称", "Name", True, aliases=("名称", "单位名称", "机构")),
    Column("kind", "机构类型", "Kind", True, "enum", (
        Choice("patent_agency", "专利代理机构", "Patent agency", ("专利代理",)),
        Choice("trademark_agency", "商标代理机构", "Trademark agency", ("商标代理",)),
        Choice("tisc", "技术与创新支持中心", "TISC", ("技术与创新支持中心TISC",)),
        Choice("service_outlet", "知识产权服务网点", "Service outlet", ("服务网点", "服务工作站", "工作站")),
        Choice("navigation_base", "专利导航服务基地", "Patent navigation base", ("导航基地", "专利导航基地")),
        Choice("protection_centre", "知识产权保护中心", "Protection centre", ("保护中心", "快速维权中心")),
        Choice("comprehensive_service", "综合性知识产权公共服务机构", "Comprehensive IP public-service institution",
               ("综合性公共服务机构", "知识产权公共服务中心")),  # plan indicator 6 (xjip/indicators)
        Choice("other", "其他", "Other"),
    )),
    Column("credit_code", "统一社会信用代码", "Unified social credit code", check="credit_code",
           aliases=("信用代码", "社会信用代码")),
    Column("licence_number", "执业许可证号/机构代码", "Licence number", aliases=("执业许可证号", "机构代码", "代理机构代码")),
    Column("address", "地址", "Address", aliases=("机构地址", "办公地址")),
    Column("phone", "联系电话", "Phone", aliases=("电话",)),
    Column("contact", "联系人", "Contact"),
    Column("established_date", "成立日期", "Established", type="date", aliases=("成立时间", "设立日期")),
    Column("staff_count", "从业人员数", "Staff", type="int", aliases=("员工人数", "人员数量")),
    Column("agents_count", "执业代理师人数", "Registered agents", type="int", aliases=("代理师人数", "专利代理师人数")),
)))


def template_specs() -> dict[str, TemplateSpec]:
    """kind → spec, in the order the download page lists them."""
    return dict(SPECS)


# --- value conversion ------------------------------------------------------------------

class _FieldError(Exception):
    def __init__(self, code: str, column: Column, **params: Any):
        self.code, self.column, self.params = code, column, params


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:[-./年](\d{1,2})月?)?(?:\s*[（(].*[)）])?$")
_FULL_DATE_HEAD = re.compile(r"^(\d{4}[-./年]\d{1,2}[-./月]\d{1,2}日?|\d{8})(?=$|\s|[（(])")


def split_partial_date(value: Any, column: str | None = None, strict: bool = True) -> tuple[dt.date | None, str | None]:
    """(full date or None, text as printed). '2004-10-05' → (date, '2004-10-05');
    '2011', '2013-01', '2003 (publicised 2003-09-02)', 'before 2009-10' → (None, text). An impossible
    full date or month raises RecordError('invalid_date'); with `strict`, so does text without a year."""
    if value is None or value == "":
        return None, None
    if isinstance(value, (dt.date, dt.datetime)):
        d = parse_date(value, column)
        return d, d.isoformat() if d else None
    text = _text(value)
    m = _FULL_DATE_HEAD.match(text)
    if m:
        return parse_date(m.group(1), column), text
    p = _PARTIAL_DATE.match(text)
    if p:
        if p.group(2) and not 1 <= int(p.group(2)) <= 12:
            raise RecordError("invalid_date", column, value=text)
        return None, text
    if strict and not re.search(r"(?<!\d)(1[89]|20)\d\d(?!\d)", text):
        raise RecordError("invalid_date", column, value=text)  # not even a year in it
    return None, text


def _number(value: Any, as_int: bool) -> float | int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        number = value
    else:
        text = _text(value).replace(",", "").replace("，", "")
        text = re.sub(r"\s*(万元|万|人)$", "", text)
        number = float(text)
    if not math.isfinite(number) or number < 0:
        raise ValueError(value)
    if as_int:
        if float(number) != int(number):
            raise ValueError(value)
        return int(number)
    return float(number)


def nice_class(value: Any) -> str:
    """'9', 9, '09', '第9类' → '09' (Nice classes 1–45, Nice Classification 12th ed.)."""
    text = re.sub(r"^第|类$", "", _text(value))
    if not text.isdigit() or not 1 <= int(text) <= 45:
        raise ValueError(value)
    return f"{int(text):02d}"


def _similar_group(value: Any) -> str:
    """类似商品和服务区分表 group: 4 digits, class first ('0901')."""
    text = _text(value)
    if re.fullmatch(r"\d{3}", text):
        text = "0" + text  # '901' typed as a number lost its leading zero
    if not re.fullmatch(r"\d{4}", text) or not 1 <= int(text[:2]) <= 45:
        raise ValueError(value)
    return text


CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_check_char(body: str) -> str:
    """The check character (GB 32100-2015) of a credit code's first 17 characters."""
    total = sum(CREDIT_CHARS.index(ch) * w for ch, w in zip(body, _CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code(value: Any) -> str:
    """Unified social credit code, GB 32100-2015: 18 characters, check character verified."""
    text = _text(value).upper().replace(" ", "")
    if len(text) != 18 or any(ch not in CREDIT_CHARS for ch in text):
        raise ValueError(value)
    if credit_check_char(text[:17]) != text[17]:
        raise ValueError(value)
    return text


def _region_code(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"\d{6}", text):
        raise ValueError(value)
    return text


def _country(value: Any) -> str:
    text = _text(value).upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise ValueError(value)
    return text


_CN_PATENT = re.compile(r"^(?:CN|ZL)?\s*\d{8}(?:\d{4})?\.?[\dX]?$", re.I)


def _right_number(value: Any, right_type: str | None) -> str:
    """Patent numbers in the CN application-number form get the canonical form and their check
    digit verified (ZC 0006-2003, via `numbers.canonical_cn_app`); other rights are kept as typed."""
    text = _text(value)
    if right_type == "patent" and _CN_PATENT.match(text.replace(" ", "")):
        return canonical_cn_app(text)
    return text


CHECKS: dict[str, Callable[[Any], str]] = {
    "nice": nice_class,
    "similar_group": _similar_group,
    "credit_code": credit_code,
    "region_code": _region_code,
    "country": _country,
}


def _choice(column: Column, value: Any) -> str:
    key = normalise_header(_text(value))
    for choice in column.choices:
        if key in {normalise_header(x) for x in (choice.value, choice.zh, choice.en, *choice.aliases)}:
            return choice.value
    raise _FieldError("bad_value", column, value=_text(value))


def _convert(column: Column, value: Any, context: dict[str, Any]) -> Any:
    """One cell → the record value; raises _FieldError (or RecordError from the number helpers)."""
    kind = column.type
    try:
        if kind == "date":
            return parse_date(value, column.zh)
        if kind == "partial_date":
            return split_partial_date(value, column.zh)
        if kind == "enum":
            return _choice(column, value)
        if kind in ("int", "float"):
            return _number(value, kind == "int")
        if kind in ("list", "parties"):
            seps = ";；、|\n" if kind == "parties" else ";；,，、|\n"
            items = split_multi(value if not isinstance(value, (int, float)) else _text(value), seps)
            if column.check == "right_number":
                items = [_right_number(x, context.get("right_type")) for x in items]
            elif column.check:
                items = _unique([CHECKS[column.check](x) for x in items])
            if kind == "parties":
                return [Party(name=n, role=column.role or "applicant") for n in items]
            return items
        if column.check == "right_number":
            return _right_number(value, context.get("right_type"))
        if column.check:
            return CHECKS[column.check](value)
        return _text(value)
    except RecordError as err:
        raise _FieldError(err.code, column, **err.params) from None
    except (ValueError, TypeError):
        raise _FieldError("bad_value", column, value=_text(value)) from None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def build_record(spec: TemplateSpec, values: dict[str, Any]) -> BaseRecord:
    """Canonical field → cell value (as `_tabular.Row.values`) → a record of `spec.record`.
    Raises _FieldError for the first bad or missing value (in column order)."""
    converted: dict[str, Any] = {}
    context: dict[str, Any] = {}
    # Enumerations first: a right number is read according to the right type.
    ordered = sorted(spec.columns, key=lambda c: c.type != "enum")
    for column in ordered:
        value = values.get(column.field)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        converted[column.field] = _convert(column, value, context)
        if column.type == "enum":
            context[column.field] = converted[column.field]
    for column in spec.columns:
        empty = converted.get(column.field) in (None, "", [])
        if column.required and empty:
            raise _FieldError("missing_field", column)
    kwargs: dict[str, Any] = dict(spec.defaults)
    nested: list[tuple[str, str, Any]] = []
    for column in spec.columns:
        if column.field not in converted:
            continue
        value = converted[column.field]
        if "." in column.field:
            head, attr = column.field.split(".", 1)
            nested.append((head, attr, value))
        elif column.type == "partial_date":
            kwargs[column.field], kwargs[f"{column.field}_text"] = value
        elif column.split:
            kwargs[column.field], kwargs[f"{column.field}_text"] = column.split(value)
        else:
            kwargs[column.field] = value
    record = spec.record(**kwargs)
    for head, attr, value in nested:
        target = getattr(record, head)
        if isinstance(target, dict):
            target[attr] = value
        elif target:  # an attribute of the first Party (no name → nowhere to attach it)
            setattr(target[0], attr, value)
    return record


# --- the importers ---------------------------------------------------------------------

# Headers of patent bibliographic exports: a file holding these is a patent list, never a template.
_PATENT_HEADERS = {normalise_header(h) for h in (
    "公开（公告）号", "公开号", "公告号", "IPC分类号", "IPC主分类", "主分类号", "发明人", "发明名称", "专利名称",
    "摘要", "申请（专利权）人", "专利类型", "主权项", "优先权号", "授权公告号", "Publication Number", "IPC",
)}


class TemplateImporter:
    record_types: tuple[str, ...]

    def __init__(self, spec: TemplateSpec):
        self.spec = spec
        self.name = spec.importer_name
        self.record_types = (spec.record.record_type,)
        self._aliases = spec.aliases()
        self._lookup = {normalise_header(a): f for a, f in self._aliases.items()}
        self._required = spec.required()

    def sniff(self, head: bytes, name: str) -> int:
        return self.sniff_rows(head_rows(head), name)

    def sniff_rows(self, rows: list[list[str]], name: str) -> int:
        """Share of this template's required headers present in the best header row, plus a little
        for optional ones; 0 when the row carries patent headers. Chinese headers decide; English
        ones ('Name', 'Status'…) are too common and count only when all required are there.
        `rows`: the first rows (of a workbook, read from the workbook: `base.detect`)."""
        best = 0
        optional = max(len(self.spec.columns) - len(self._required), 1)
        for row in rows[:10]:
            norm = {normalise_header(c) for c in row if c}
            if len(norm & _PATENT_HEADERS) >= 2:
                return 0
            zh = {self._lookup[n] for n in norm if n in self._lookup and not n.isascii()}
            found = {self._lookup[n] for n in norm if n in self._lookup}
            req = len(zh & self._required)
            if req == len(self._required):
                score = 60 + int(30 * len(zh - self._required) / optional)
            elif len(self._required) > 1 and req == len(self._required) - 1 and len(zh) >= 2:
                score = 30  # one required column missing: still ours, import reports missing_columns
            elif self._required <= found and len(found) >= 3:
                score = 50
            else:
                score = 0
            best = max(best, score)
        return best

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        seen: dict[str, int | None] = {}
        for item in iter_rows(source, required=self._required, aliases=self._aliases):
            if isinstance(item, Rejection):
                yield item
                continue
            try:
                record = build_record(self.spec, item.values)
            except _FieldError as err:
                yield _rejection(item, err)
                continue
            key = record.natural_key()
            if key in seen:
                yield Rejection(item.locator, "duplicate_key", None, {"key": key, "first": seen[key]}, item.raw)
                continue
            seen[key] = item.locator.record
            record.locator, record.raw = item.locator, item.raw
            yield record


def _rejection(row: Row, err: _FieldError) -> Rejection:
    loc = row.locator
    cell = row.cell_of(err.column.field)
    return Rejection(Locator(loc.file, loc.record, loc.line, cell), err.code, err.column.zh, err.params, row.raw)


IMPORTERS: dict[str, TemplateImporter] = {kind: register(TemplateImporter(spec)) for kind, spec in SPECS.items()}


# --- writing the templates -------------------------------------------------------------

def _allowed(column: Column, lang: str) -> str:
    if column.type != "enum":
        return ""
    return " / ".join(getattr(c, lang) for c in column.choices)


def _type_text(column: Column, lang: str) -> str:
    return t(f"templates.type.{column.type}", lang)


def english_comment(column: Column) -> str:
    """The English cell of the CSV comment row: header, '*' when required, type and values."""
    hint = _allowed(column, "en") if column.type == "enum" else _type_text(column, "en")
    return f"{column.en}{' *' if column.required else ''} ({hint})"


def write_template(kind: str, path: str | Path, fmt: str = "xlsx") -> Path:
    """Write the empty template of `kind` ('trademark', 'gi', …) to `path` as 'xlsx' or 'csv'."""
    if kind not in SPECS:
        raise KeyError(f"unknown template kind {kind!r}; known: {', '.join(SPECS)}")
    spec = SPECS[kind]
    target = Path(path)
    if fmt == "csv":
        with open(target, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            comments = [english_comment(c) for c in spec.columns]
            comments[0] = f"# {comments[0]}"
            writer.writerow(comments)
            writer.writerow([c.header for c in spec.columns])
        return target
    if fmt != "xlsx":
        raise ValueError(f"fmt must be 'xlsx' or 'csv', not {fmt!r}")
    _write_xlsx(spec, target)
    return target


def _write_xlsx(spec: TemplateSpec, target: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = spec.zh.replace("/", "、")[:31]  # '/' is not allowed in a sheet title
    ws.append([c.header for c in spec.columns])
    required_font, font = Font(bold=True, color="C00000"), Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for i, column in enumerate(spec.columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = required_font if column.required else font
        cell.fill = fill
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(12, min(40, 2 * len(column.header) + 4))
        if column.type == "enum":
            values = ",".join(c.zh for c in column.choices)
            dv = DataValidation(type="list", formula1=f'"{values}"', allow_blank=True, showErrorMessage=False)
            dv.add(f"{letter}2:{letter}5000")
            ws.add_data_validation(dv)
        elif column.type == "date":
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        elif column.type == "text":  # keep leading zeros and long numbers as typed
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"

    notes = wb.create_sheet(t("templates.sheet.notes", "zh"))
    heads = ("column", "english", "field", "required", "type", "allowed", "note")
    notes.append([f"{t(f'templates.notes.{h}', 'zh')} {t(f'templates.notes.{h}', 'en')}" for h in heads])
    for cell in notes[1]:
        cell.font = font
        cell.fill = fill
    for column in spec.columns:
        notes.append([
            column.header, column.en, column.field,
            t("templates.yes", "zh") + " yes" if column.required else "",
            f"{_type_text(column, 'zh')} / {_type_text(column, 'en')}",
            "\n".join(f"{c.zh} = {c.en}" for c in column.choices),
            " / ".join(x for x in (column.note_zh, column.note_en) if x),
        ])
    for letter, width in zip("ABCDEFG", (22, 26, 24, 10, 30, 34, 44)):
        notes.column_dimensions[letter].width = width
    notes.append([])
    notes.append([t("templates.notes.footer", "zh")])
    notes.append([t("templates.notes.footer", "en")])
    wb.save(target)
