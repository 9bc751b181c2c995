"""The contract between importers and the store.

An importer turns a source into a stream of these records (or `Rejection`s). It never
touches the database: `xjip.hub.pipeline` resolves places and owners, upserts on the
natural key and commits one batch at a time.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Iterator, Union


@dataclass(frozen=True)
class Locator:
    """Where a record came from: the file, the record index (1-based), and line or cell."""

    file: str
    record: int | None = None
    line: int | None = None
    cell: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.record is not None:
            parts.append(f"#{self.record}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.cell:
            parts.append(f"cell {self.cell}")
        return ":".join(parts)


@dataclass
class Note:
    """A located remark on a record that WAS taken (say, a bare `&` in its XML, escaped to read
    it: `xml_repaired`). Kept and shown with the job's rejections, never counted as one. `code`
    is a key of the i18n catalogue (`import.error.<code>`), one of NOTE_CODES."""

    locator: Locator
    code: str
    field: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)


NOTE_CODES = frozenset({"xml_repaired"})


@dataclass
class Rejection:
    """A record (or file) that could not be taken. `code` is a key of the i18n catalogue
    (`import.error.<code>`); `params` fill its placeholders in every language."""

    locator: Locator
    code: str
    field: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)
    raw: Any = None
    import_notes: list[Note] = dc_field(default_factory=list)  # remarks on how its source was read


class SourceError(Exception):
    """The source as a whole cannot be read further (truncated XML, wrong encoding…).
    Records yielded before it are kept; the job ends as `failed` with this located error."""

    def __init__(self, locator: Locator, code: str, field: str | None = None, **params: Any):
        self.rejection = Rejection(locator=locator, code=code, field=field, params=params)
        super().__init__(f"{locator}: {code} {params}")


class RecordError(Exception):
    """Raised by field parsers inside one record; the importer turns it into a Rejection."""

    def __init__(self, code: str, field: str | None = None, *, line: int | None = None, **params: Any):
        self.code, self.field, self.params = code, field, params
        self.line = line  # line in the source where the bad field stands, when the parser knows it
        super().__init__(f"{field}: {code} {params}")


@dataclass
class Party:
    name: str
    address: str | None = None
    country: str | None = None
    role: str = "applicant"  # applicant | owner | assignee | holder | pledgor | pledgee | licensor | licensee


@dataclass
class LegalEvent:
    """category: transfer | licence | open_licence | pledge | pledge_release | invalidation |
    lapse | fee_payment | grant | owner_change | rejection | withdrawal | restoration | other"""

    category: str
    date: dt.date | None = None
    code: str | None = None
    description: str | None = None
    details: dict[str, Any] = dc_field(default_factory=dict)


@dataclass
class FamilyMember:
    number: str
    country: str | None = None
    kind: str | None = None
    date: dt.date | None = None
    granted: bool | None = None


@dataclass
class Publication:
    """One publication of the application a record describes (its A, its B, an A8 correction…):
    canonical number, kind code (WIPO ST.16) and date."""

    number: str
    kind: str | None = None
    date: dt.date | None = None


@dataclass
class Priority:
    number: str
    country: str | None = None
    date: dt.date | None = None


@dataclass
class BaseRecord:
    locator: Locator | None = dc_field(default=None, kw_only=True)
    raw: Any = dc_field(default=None, kw_only=True)  # the source record as read (dict or XML text)
    is_synthetic: bool = dc_field(default=False, kw_only=True)
    # remarks on how it was read, shown on the job (not `notes`: GIRecord has a field of that name)
    import_notes: list[Note] = dc_field(default_factory=list, kw_only=True)

    record_type = "base"

    def natural_key(self) -> str:
        raise NotImplementedError


@dataclass
class PatentRecord(BaseRecord):
    record_type = "patent"

    country: str = "CN"
    app_number: str | None = None  # canonical, e.g. CN202223220665.2
    app_date: dt.date | None = None
    pub_number: str | None = None  # canonical, e.g. CN218751475U
    pub_date: dt.date | None = None
    grant_number: str | None = None
    grant_date: dt.date | None = None
    patent_type: str | None = None  # invention | utility_model | design
    kind_code: str | None = None
    title: str | None = None
    title_en: str | None = None
    abstract: str | None = None
    claims: list[str] = dc_field(default_factory=list)
    # `claims` is the first claim alone (主权项 of a bibliographic export): how many claims the
    # patent has is unknown, and a full text stored earlier keeps its claims
    first_claim_only: bool = False
    stated_claims_count: int | None = None  # as the export states it (权利要求数), when it lists no claims
    description: str | None = None
    language: str | None = None
    applicants: list[Party] = dc_field(default_factory=list)
    inventors: list[str] = dc_field(default_factory=list)
    agency: str | None = None
    agency_code: str | None = None  # CNIPA 5-digit 代理机构代码
    agents: list[str] = dc_field(default_factory=list)
    ipc: list[str] = dc_field(default_factory=list)  # canonical "A01B1/00"
    ipc_main: str | None = None
    ipc_edition: str | None = None
    cpc: list[str] = dc_field(default_factory=list)
    priorities: list[Priority] = dc_field(default_factory=list)
    family_id: str | None = None
    family: list[FamilyMember] = dc_field(default_factory=list)
    citations: list[str] = dc_field(default_factory=list)
    legal_status: str | None = None  # as printed by the source
    status: str | None = None  # pending | granted | lapsed | invalidated | withdrawn | rejected | expired
    events: list[LegalEvent] = dc_field(default_factory=list)
    transfer_count: int | None = None
    license_count: int | None = None
    pledge_count: int | None = None
    province_code: str | None = None  # 国省代码 as a GB/T 2260 province code, e.g. "65"
    pct_app_number: str | None = None
    # every publication the source names for this application; when empty, the writer takes
    # `pub_number` and `grant_number` (xjip.hub.writers.publications_of)
    publications: list[Publication] = dc_field(default_factory=list)

    def natural_key(self) -> str:
        return self.app_number or self.pub_number or self.grant_number or ""


@dataclass
class TrademarkRecord(BaseRecord):
    record_type = "trademark"

    office: str = "CN"
    app_number: str | None = None
    reg_number: str | None = None
    app_date: dt.date | None = None
    reg_date: dt.date | None = None
    expiry_date: dt.date | None = None
    word_element: str | None = None
    transliterations: dict[str, str] = dc_field(default_factory=dict)  # {"pinyin": …, "en": …, "ug": …}
    mark_feature: str | None = None  # word | figurative | combined | 3d | sound | …
    mark_kind: str | None = None  # ordinary | collective | certification | gi
    nice_classes: list[str] = dc_field(default_factory=list)  # "01".."45"
    similar_groups: list[str] = dc_field(default_factory=list)  # "0101"
    goods: str | None = None
    owners: list[Party] = dc_field(default_factory=list)
    agent: str | None = None
    # filed | published | registered | opposed | refused | withdrawn | expired | cancelled | invalidated | other
    # (importers.trademark_status); the office's own wording is kept in status_text.
    status: str | None = None
    status_text: str | None = None  # as printed by the source
    status_date: dt.date | None = None
    events: list[LegalEvent] = dc_field(default_factory=list)

    def natural_key(self) -> str:
        return f"{self.office}:{self.app_number or self.reg_number or ''}"


@dataclass
class GIRecord(BaseRecord):
    record_type = "gi"

    name: str = ""
    gi_system: str = ""  # PGI_product | GI_certification_TM | GI_collective_TM | GI_TM_unspecified | AGI | GI_unspecified
    status: str | None = None
    category: str | None = None
    protected_area_text: str | None = None
    region_codes: list[str] = dc_field(default_factory=list)  # counties (or prefectures) as given
    authority: str | None = None
    announcement_no: str | None = None
    approval_date: dt.date | None = None
    approval_date_text: str | None = None
    standard: str | None = None
    applicant: str | None = None
    registration_no: str | None = None
    nice_class: str | None = None
    confidence: str | None = None
    source_url: str | None = None
    notes: str | None = None

    def natural_key(self) -> str:
        return f"{self.name}|{self.gi_system}"


@dataclass
class GIMarkUserRecord(BaseRecord):
    record_type = "gi_mark_user"

    gi_name: str = ""
    gi_system: str | None = None
    user_name: str = ""
    address: str | None = None
    credit_code: str | None = None
    approved_date: dt.date | None = None
    revoked_date: dt.date | None = None
    announcement_no: str | None = None

    def natural_key(self) -> str:
        return f"{self.gi_name}|{self.credit_code or self.user_name}"


@dataclass
class CopyrightRecord(BaseRecord):
    record_type = "copyright"

    reg_number: str = ""
    kind: str | None = None  # works | software
    title: str | None = None
    category: str | None = None
    authors: list[str] = dc_field(default_factory=list)
    owners: list[Party] = dc_field(default_factory=list)
    completion_date: dt.date | None = None
    first_publication_date: dt.date | None = None
    reg_date: dt.date | None = None

    def natural_key(self) -> str:
        return self.reg_number


@dataclass
class PlantVarietyRecord(BaseRecord):
    record_type = "plant_variety"

    app_number: str = ""
    grant_number: str | None = None
    name: str | None = None
    species: str | None = None
    applicants: list[Party] = dc_field(default_factory=list)
    breeders: list[str] = dc_field(default_factory=list)
    app_date: dt.date | None = None
    grant_date: dt.date | None = None
    status: str | None = None

    def natural_key(self) -> str:
        return self.app_number


@dataclass
class TransactionRecord(BaseRecord):
    """A transfer, licence or open licence of a right (patent, trademark, copyright…)."""

    record_type = "transaction"

    kind: str = "transfer"  # transfer | licence | open_licence
    right_type: str = "patent"
    right_number: str = ""
    from_party: str | None = None
    to_party: str | None = None
    to_address: str | None = None
    licence_type: str | None = None  # exclusive | sole | ordinary
    date: dt.date | None = None
    end_date: dt.date | None = None
    amount_wan: float | None = None  # 万元
    record_number: str | None = None  # 备案号 / 登记号

    def natural_key(self) -> str:
        if self.record_number:
            return f"{self.kind}:{self.record_number}"
        return f"{self.kind}:{self.right_type}:{self.right_number}:{self.date}:{self.to_party or ''}"


@dataclass
class PledgeRecord(BaseRecord):
    record_type = "pledge"

    reg_number: str = ""
    right_type: str = "patent"
    right_numbers: list[str] = dc_field(default_factory=list)
    pledgor: str | None = None
    pledgor_address: str | None = None
    pledgee: str | None = None
    amount_wan: float | None = None
    reg_date: dt.date | None = None
    end_date: dt.date | None = None
    status: str | None = None

    def natural_key(self) -> str:
        return self.reg_number


@dataclass
class CaseRecord(BaseRecord):
    record_type = "case"

    case_number: str = ""
    kind: str | None = None  # administrative | civil | criminal | mediation | arbitration
    right_type: str | None = None
    cause: str | None = None
    plaintiffs: list[str] = dc_field(default_factory=list)
    defendants: list[str] = dc_field(default_factory=list)
    authority: str | None = None
    address: str | None = None
    accepted_date: dt.date | None = None
    closed_date: dt.date | None = None
    result: str | None = None
    amount_wan: float | None = None

    def natural_key(self) -> str:
        return self.case_number


@dataclass
class InstitutionRecord(BaseRecord):
    record_type = "institution"

    name: str = ""
    kind: str | None = None  # patent_agency | trademark_agency | tisc | service_outlet | navigation_base | protection_centre | other
    credit_code: str | None = None
    licence_number: str | None = None
    address: str | None = None
    phone: str | None = None
    contact: str | None = None
    established_date: dt.date | None = None
    staff_count: int | None = None
    agents_count: int | None = None

    def natural_key(self) -> str:
        return self.credit_code or self.name


Record = Union[
    PatentRecord, TrademarkRecord, GIRecord, GIMarkUserRecord, CopyrightRecord,
    PlantVarietyRecord, TransactionRecord, PledgeRecord, CaseRecord, InstitutionRecord,
]
Item = Union[Record, Rejection]
ItemStream = Iterator[Item]
