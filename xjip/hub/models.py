"""The hub's schema: one store for every kind of right, on SQLite and PostgreSQL alike.

Conventions
- Every right table has a unique `key` (its normalised natural key) and the provenance
  columns of `ProvenanceMixin`; the raw source records live in `source_record`.
- Places are stored as GB/T 2260 codes at three levels (`region_code` = the most precise
  code found, `prefecture_code`, `county_code`); foreign or unresolved records keep NULLs.
- Lists that are read whole (inventors, IPC, classes) are JSON; anything queried row-wise
  (applicants, events, family, areas) has its own table.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SQL NULL (not JSON null) for None, so that COALESCE in upserts keeps earlier values.
JSONN = JSON(none_as_null=True)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONN, list[Any]: JSONN, list[str]: JSONN}


Base.metadata.naming_convention = NAMING


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# Row ids are PostgreSQL `integer` (32-bit); SQLite's are 64-bit, but one bound for both keeps
# their answers the same. An id outside it names no row: looked up, it would be a driver error.
MAX_ROW_ID = 2**31 - 1


def is_row_id(value: Any) -> bool:
    """Could `value` be a stored row's id? (Checked before a lookup by an id from outside.)"""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID


class ProvenanceMixin:
    """Where the normalised row came from last, and whether it is real."""

    source: Mapped[str | None] = mapped_column(String(300))
    source_format: Mapped[str | None] = mapped_column(String(40))
    licence: Mapped[str | None] = mapped_column(String(200))
    imported_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    import_job_id: Mapped[int | None] = mapped_column(Integer, index=True)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class PlaceMixin:
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    county_code: Mapped[str | None] = mapped_column(String(6), index=True)
    place_method: Mapped[str | None] = mapped_column(String(20))  # xjip.hub.places.METHODS


# --- reference data ---------------------------------------------------------------------

class Region(Base):
    """GB/T 2260 units, versioned: a row is valid from `valid_from` to `valid_to` (exclusive)."""

    __tablename__ = "region"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer)  # 1 region, 2 prefecture, 3 county, 4 township
    unit_type_zh: Mapped[str | None] = mapped_column(String(40))
    parent_code: Mapped[str | None] = mapped_column(String(6), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6))
    administered_by: Mapped[str | None] = mapped_column(String(6))  # 塔城/阿勒泰 → 伊犁州
    is_xpcc: Mapped[bool] = mapped_column(Boolean, default=False)
    xpcc_division: Mapped[str | None] = mapped_column(String(40))
    name_pinyin: Mapped[str | None] = mapped_column(String(200))
    name_ug: Mapped[str | None] = mapped_column(String(200))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(300))
    __table_args__ = (UniqueConstraint("code", "valid_from", name="uq_region_code_valid_from"),)


class RegionAlias(Base):
    """Other names of a unit: old names (库车县), short names (库尔勒), XPCC 师/团 names, towns."""

    __tablename__ = "region_alias"
    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), index=True)
    code: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(20))  # short | former | xpcc_division | xpcc_regiment | township
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(300))
    __table_args__ = (UniqueConstraint("alias", "code", "kind", name="uq_region_alias"),)


class RegionPopulation(Base):
    __tablename__ = "region_population"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), index=True)
    year: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(String(60))
    reference_date: Mapped[str | None] = mapped_column(String(20))
    persons: Mapped[int] = mapped_column(BigInteger)
    confidence: Mapped[str | None] = mapped_column(String(20))
    scope_note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("code", "year", "indicator", name="uq_region_population"),)


class IpcClass(Base):
    __tablename__ = "ipc_class"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    level: Mapped[str] = mapped_column(String(12))
    title_zh: Mapped[str | None] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(Text)
    edition_zh: Mapped[str | None] = mapped_column(String(20))
    edition_en: Mapped[str | None] = mapped_column(String(20))


class SeiIndustry(Base):
    """Strategic emerging industries (CNIPA 2021 IPC reference table)."""

    __tablename__ = "sei_industry"
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))


class SeiRule(Base):
    __tablename__ = "sei_rule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sei_code: Mapped[str] = mapped_column(String(10), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONN)


class IpcSei(Base):
    __tablename__ = "ipc_sei"
    id: Mapped[int] = mapped_column(primary_key=True)
    ipc_code: Mapped[str] = mapped_column(String(20), index=True)
    rule_id: Mapped[int] = mapped_column(Integer, index=True)
    __table_args__ = (UniqueConstraint("ipc_code", "rule_id", name="uq_ipc_sei"),)


class NiceClass(Base):
    __tablename__ = "nice_class"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    heading_zh: Mapped[str] = mapped_column(Text)
    heading_en: Mapped[str | None] = mapped_column(Text)


class SimilarGroup(Base):
    """China's 类似群 (e.g. 3001) and items of the 类似商品和服务区分表."""

    __tablename__ = "similar_group"
    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    nice_class: Mapped[str] = mapped_column(String(2), index=True)
    name_zh: Mapped[str] = mapped_column(Text)
    edition: Mapped[str | None] = mapped_column(String(10))


class SimilarItem(Base):
    __tablename__ = "similar_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_code: Mapped[str] = mapped_column(String(12), index=True)
    group_code: Mapped[str] = mapped_column(String(4), index=True)
    nice_class: Mapped[str] = mapped_column(String(2))
    name_zh: Mapped[str] = mapped_column(Text)
    cn_supplementary: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (UniqueConstraint("item_code", "group_code", "name_zh", name="uq_similar_item"),)


class Law(Base):
    __tablename__ = "law"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # title@version_date
    title: Mapped[str] = mapped_column(String(200), index=True)
    category: Mapped[str | None] = mapped_column(String(40))
    version_date: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)


class LawArticle(Base):
    __tablename__ = "law_article"
    id: Mapped[int] = mapped_column(primary_key=True)
    law_id: Mapped[int] = mapped_column(ForeignKey("law.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40))  # 第二十二条
    chapter: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("law_id", "seq", name="uq_law_article"),)


# --- owners -----------------------------------------------------------------------------

class Entity(PlaceMixin, Base):
    """An owner (company, university, institute, person) behind many spellings of its name."""

    __tablename__ = "entity"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str | None] = mapped_column(String(20))  # company | university | institute | government | individual | other
    country: Mapped[str | None] = mapped_column(String(2))
    merged_into: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class EntityAlias(Base):
    __tablename__ = "entity_alias"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    alias: Mapped[str] = mapped_column(String(300))
    alias_key: Mapped[str] = mapped_column(String(300), unique=True)
    source: Mapped[str | None] = mapped_column(String(20))  # import | manual | split


# --- rights -----------------------------------------------------------------------------

class Patent(ProvenanceMixin, PlaceMixin, Base):
    __tablename__ = "patent"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    app_number: Mapped[str | None] = mapped_column(String(40), index=True)
    app_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    pub_number: Mapped[str | None] = mapped_column(String(40), index=True)
    pub_date: Mapped[dt.date | None] = mapped_column(Date)
    grant_number: Mapped[str | None] = mapped_column(String(40), index=True)
    grant_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    patent_type: Mapped[str | None] = mapped_column(String(20), index=True)
    kind_code: Mapped[str | None] = mapped_column(String(4))
    title: Mapped[str | None] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    first_claim: Mapped[str | None] = mapped_column(Text)
    claims_count: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(5))
    inventors: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    agency: Mapped[str | None] = mapped_column(String(300))
    agency_code: Mapped[str | None] = mapped_column(String(10))
    agents: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    ipc_main: Mapped[str | None] = mapped_column(String(20), index=True)
    ipc: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    ipc_edition: Mapped[str | None] = mapped_column(String(20))
    cpc: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    priorities: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    pct_app_number: Mapped[str | None] = mapped_column(String(40))
    family_id: Mapped[str | None] = mapped_column(String(40), index=True)
    citations: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    legal_status: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str | None] = mapped_column(String(20), index=True)
    transfer_count: Mapped[int | None] = mapped_column(Integer)
    license_count: Mapped[int | None] = mapped_column(Integer)
    pledge_count: Mapped[int | None] = mapped_column(Integer)
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    first_applicant: Mapped[str | None] = mapped_column(String(300))
    first_applicant_entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class PatentText(Base):
    """Full text (claims, description) kept apart so listing patents stays cheap."""

    __tablename__ = "patent_text"
    patent_id: Mapped[int] = mapped_column(ForeignKey("patent.id", ondelete="CASCADE"), primary_key=True)
    claims: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    description: Mapped[str | None] = mapped_column(Text)


class PatentParty(PlaceMixin, Base):
    __tablename__ = "patent_party"
    id: Mapped[int] = mapped_column(primary_key=True)
    patent_id: Mapped[int] = mapped_column(ForeignKey("patent.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    __table_args__ = (UniqueConstraint("patent_id", "role", "seq", name="uq_patent_party"),)


class PatentEvent(Base):
    __tablename__ = "patent_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    patent_id: Mapped[int] = mapped_column(ForeignKey("patent.id", ondelete="CASCADE"), index=True)
    event_key: Mapped[str] = mapped_column(String(64))  # hash of (category, date, code, description)
    category: Mapped[str] = mapped_column(String(20), index=True)
    event_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    code: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)
    source: Mapped[str | None] = mapped_column(String(300))
    __table_args__ = (UniqueConstraint("patent_id", "event_key", name="uq_patent_event"),)


class PatentFamilyMember(Base):
    __tablename__ = "patent_family_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    patent_id: Mapped[int] = mapped_column(ForeignKey("patent.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    kind: Mapped[str | None] = mapped_column(String(4))
    date: Mapped[dt.date | None] = mapped_column(Date)
    granted: Mapped[bool | None] = mapped_column(Boolean)
    __table_args__ = (UniqueConstraint("patent_id", "number", name="uq_patent_family_member"),)


class PatentPublication(Base):
    """Every publication of a patent's application (A, B, corrections A8/B9…) with the source
    that named it; `patent.pub_number`/`grant_number` are the first and the grant among them."""

    __tablename__ = "patent_publication"
    id: Mapped[int] = mapped_column(primary_key=True)
    # looked up by patent through the unique (patent_id, number) index: no index of its own
    patent_id: Mapped[int] = mapped_column(ForeignKey("patent.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(40), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    kind: Mapped[str | None] = mapped_column(String(4))
    date: Mapped[dt.date | None] = mapped_column(Date)
    is_grant: Mapped[bool | None] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(String(300))
    __table_args__ = (UniqueConstraint("patent_id", "number", name="uq_patent_publication"),)


class PatentConflict(Base):
    """Two rows about one application that disagree (a different title, say): the record keeps
    one value (`kept`), the other is kept here with the row that said it, for a person to see."""

    __tablename__ = "patent_conflict"
    id: Mapped[int] = mapped_column(primary_key=True)
    patent_id: Mapped[int] = mapped_column(ForeignKey("patent.id", ondelete="CASCADE"))  # see uq_patent_conflict
    field: Mapped[str] = mapped_column(String(40))
    kept: Mapped[str | None] = mapped_column(Text)
    kept_source: Mapped[str | None] = mapped_column(String(300))
    other: Mapped[str | None] = mapped_column(Text)
    other_source: Mapped[str] = mapped_column(String(300))
    other_locator: Mapped[str | None] = mapped_column(String(400))
    import_job_id: Mapped[int | None] = mapped_column(Integer, index=True)
    found_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("patent_id", "field", "other_source", name="uq_patent_conflict"),)


class Trademark(ProvenanceMixin, PlaceMixin, Base):
    __tablename__ = "trademark"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    office: Mapped[str] = mapped_column(String(4), index=True)
    app_number: Mapped[str | None] = mapped_column(String(40), index=True)
    reg_number: Mapped[str | None] = mapped_column(String(40), index=True)
    app_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    reg_date: Mapped[dt.date | None] = mapped_column(Date)
    expiry_date: Mapped[dt.date | None] = mapped_column(Date)
    word_element: Mapped[str | None] = mapped_column(Text)
    transliterations: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)
    mark_feature: Mapped[str | None] = mapped_column(String(30))
    mark_kind: Mapped[str | None] = mapped_column(String(20), index=True)
    nice_classes: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    similar_groups: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    goods: Mapped[str | None] = mapped_column(Text)
    owner_name: Mapped[str | None] = mapped_column(String(300))
    owner_address: Mapped[str | None] = mapped_column(Text)
    owner_entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    agent: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str | None] = mapped_column(String(60), index=True)  # normalised, see TrademarkRecord
    status_text: Mapped[str | None] = mapped_column(String(200))  # as printed by the office
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    events: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)


class GeographicalIndication(ProvenanceMixin, PlaceMixin, Base):
    __tablename__ = "gi"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # name|system
    name: Mapped[str] = mapped_column(String(100), index=True)
    gi_system: Mapped[str] = mapped_column(String(30), index=True)
    status: Mapped[str | None] = mapped_column(String(60))
    category: Mapped[str | None] = mapped_column(String(40))
    protected_area_text: Mapped[str | None] = mapped_column(Text)
    authority: Mapped[str | None] = mapped_column(String(200))
    announcement_no: Mapped[str | None] = mapped_column(String(200))
    approval_date: Mapped[dt.date | None] = mapped_column(Date)
    approval_date_text: Mapped[str | None] = mapped_column(String(60))
    standard: Mapped[str | None] = mapped_column(String(200))
    applicant: Mapped[str | None] = mapped_column(String(300))
    applicant_entity_id: Mapped[int | None] = mapped_column(Integer)
    registration_no: Mapped[str | None] = mapped_column(String(60))
    nice_class: Mapped[str | None] = mapped_column(String(10))
    confidence: Mapped[str | None] = mapped_column(String(10))
    source_url: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)


class GIArea(Base):
    """One row per unit of a GI's protected area (county or prefecture; XPCC cities too)."""

    __tablename__ = "gi_area"
    id: Mapped[int] = mapped_column(primary_key=True)
    gi_id: Mapped[int] = mapped_column(ForeignKey("gi.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    __table_args__ = (UniqueConstraint("gi_id", "region_code", name="uq_gi_area"),)


class GIMarkUser(ProvenanceMixin, PlaceMixin, Base):
    """An enterprise authorised to use the GI special mark (地理标志专用标志)."""

    __tablename__ = "gi_mark_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    gi_id: Mapped[int | None] = mapped_column(ForeignKey("gi.id"), index=True)
    gi_name: Mapped[str] = mapped_column(String(100))
    user_name: Mapped[str] = mapped_column(String(300))
    entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    address: Mapped[str | None] = mapped_column(Text)
    credit_code: Mapped[str | None] = mapped_column(String(30))
    approved_date: Mapped[dt.date | None] = mapped_column(Date)
    revoked_date: Mapped[dt.date | None] = mapped_column(Date)
    announcement_no: Mapped[str | None] = mapped_column(String(100))


class Copyright(ProvenanceMixin, PlaceMixin, Base):
    __tablename__ = "copyright"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str | None] = mapped_column(String(20), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(60))
    authors: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    owner_name: Mapped[str | None] = mapped_column(String(300))
    owner_address: Mapped[str | None] = mapped_column(Text)
    owner_entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    completion_date: Mapped[dt.date | None] = mapped_column(Date)
    first_publication_date: Mapped[dt.date | None] = mapped_column(Date)
    reg_date: Mapped[dt.date | None] = mapped_column(Date, index=True)


class PlantVariety(ProvenanceMixin, PlaceMixin, Base):
    __tablename__ = "plant_variety"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    grant_number: Mapped[str | None] = mapped_column(String(60))
    name: Mapped[str | None] = mapped_column(String(200))
    species: Mapped[str | None] = mapped_column(String(100))
    applicant: Mapped[str | None] = mapped_column(String(300))
    applicant_address: Mapped[str | None] = mapped_column(Text)
    applicant_entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    breeders: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    app_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    grant_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(40))


class RightTransaction(ProvenanceMixin, PlaceMixin, Base):
    """Transfers, licences and open licences (开放许可) of any right."""

    __tablename__ = "right_transaction"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    right_type: Mapped[str] = mapped_column(String(20), index=True)
    right_number: Mapped[str] = mapped_column(String(60), index=True)
    from_party: Mapped[str | None] = mapped_column(String(300))
    to_party: Mapped[str | None] = mapped_column(String(300))
    to_address: Mapped[str | None] = mapped_column(Text)
    to_entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    licence_type: Mapped[str | None] = mapped_column(String(20))
    date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    amount_wan: Mapped[float | None] = mapped_column(Float)
    record_number: Mapped[str | None] = mapped_column(String(60))


class Pledge(ProvenanceMixin, PlaceMixin, Base):
    __tablename__ = "pledge"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    right_type: Mapped[str] = mapped_column(String(20), index=True)
    right_numbers: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    pledgor: Mapped[str | None] = mapped_column(String(300))
    pledgor_address: Mapped[str | None] = mapped_column(Text)
    pledgor_entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    pledgee: Mapped[str | None] = mapped_column(String(300))
    amount_wan: Mapped[float | None] = mapped_column(Float)
    reg_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(40))


class EnforcementCase(ProvenanceMixin, PlaceMixin, Base):
    __tablename__ = "enforcement_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str | None] = mapped_column(String(20), index=True)
    right_type: Mapped[str | None] = mapped_column(String(20), index=True)
    cause: Mapped[str | None] = mapped_column(Text)
    plaintiffs: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    defendants: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    authority: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    accepted_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    closed_date: Mapped[dt.date | None] = mapped_column(Date)
    result: Mapped[str | None] = mapped_column(Text)
    amount_wan: Mapped[float | None] = mapped_column(Float)


class Institution(ProvenanceMixin, PlaceMixin, Base):
    """Service institutions and agencies: patent/trademark agencies, TISCs, service outlets."""

    __tablename__ = "institution"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str | None] = mapped_column(String(30), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(30))
    licence_number: Mapped[str | None] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(60))
    contact: Mapped[str | None] = mapped_column(String(100))
    established_date: Mapped[dt.date | None] = mapped_column(Date)
    staff_count: Mapped[int | None] = mapped_column(Integer)
    agents_count: Mapped[int | None] = mapped_column(Integer)
    entity_id: Mapped[int | None] = mapped_column(Integer, index=True)


# --- provenance, jobs, users -----------------------------------------------------------

class SourceRecord(Base):
    """The raw record as the source gave it, one row per (record, source file)."""

    __tablename__ = "source_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20))
    record_key: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(300))
    source_format: Mapped[str] = mapped_column(String(40))
    locator: Mapped[str | None] = mapped_column(String(400))
    licence: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(40))
    raw: Mapped[str | None] = mapped_column(Text)
    import_job_id: Mapped[int | None] = mapped_column(Integer, index=True)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        UniqueConstraint("record_type", "record_key", "source", name="uq_source_record"),
    )


class ImportJob(Base):
    __tablename__ = "import_job"
    RESUMABLE = ("interrupted", "failed")  # statuses from which a person can start the job again
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the source bytes
    format: Mapped[str | None] = mapped_column(String(40))
    options: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued | running | done | failed | interrupted
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(100))
    bytes_total: Mapped[int | None] = mapped_column(BigInteger)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)  # {source name: records committed}
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    inserted_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    placed_count: Mapped[int] = mapped_column(Integer, default=0)  # records with an address resolved to a place
    # rows that added to a record an earlier row of the job had stored (the B publication after the A)
    merged_count: Mapped[int | None] = mapped_column(Integer, default=0)
    addressed_count: Mapped[int] = mapped_column(Integer, default=0)  # records that carried an address at all
    # records placed by each method ({"gazetteer": n, "owner": n, "organisation": n, "name": n,
    # "province_code": n, "none": n, …}: xjip.hub.places.METHODS), unchanged records included
    place_methods: Mapped[dict[str, Any] | None] = mapped_column(JSONN)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONN)
    # set by a person (web: the job page's stop button); the job stops after its next commit
    stop_requested: Mapped[bool | None] = mapped_column(Boolean)
    # where the current run (the first start or the latest resume) began: its rate, and the
    # time left, count only what this run did
    run_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    run_bytes_start: Mapped[int | None] = mapped_column(BigInteger)
    run_read_start: Mapped[int | None] = mapped_column(Integer)
    # exact count of rejected records per reason, {"code\tfield": n}: only the first
    # `pipeline.REJECTION_SAMPLES` of each reason are kept as import_rejection rows
    rejection_counts: Mapped[dict[str, Any] | None] = mapped_column(JSONN)


class ImportSource(Base):
    """Where a source (file, archive member) lies, and the name its records are stored under
    (`source_record.source`): the file's name, or 'name (2)' for a second file of that name
    elsewhere, so that two different response.xml.gz are two sources. Uploads are one place
    per file name (a re-upload is the next version of the same file)."""

    __tablename__ = "import_source"
    id: Mapped[int] = mapped_column(primary_key=True)
    location_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of `location`
    location: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ImportLock(Base):
    """One row while a source (by fingerprint) is being imported: a second start is refused."""

    __tablename__ = "import_lock"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[int] = mapped_column(Integer)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ColumnMapping(Base):
    """A column mapping staff chose on a job page for a header nobody knew: used again for the
    next file whose header reads the same (`header_key`: the normalised header cells)."""

    __tablename__ = "column_mapping"
    __table_args__ = (UniqueConstraint("importer", "header_key", name="uq_column_mapping_header"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    importer: Mapped[str] = mapped_column(String(40))
    header_key: Mapped[str] = mapped_column(String(64))
    header: Mapped[list[Any] | None] = mapped_column(JSONN)  # the header cells as the file wrote them
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONN)  # source column (or '#N') → field
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    job_id: Mapped[int | None] = mapped_column(Integer)  # the job it was made on


class ImportRejection(Base):
    __tablename__ = "import_rejection"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_job.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(Text)
    record: Mapped[int | None] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    cell: Mapped[str | None] = mapped_column(String(20))
    field: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(60))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))  # admin | staff | viewer | enterprise (xjip.web.auth)
    display_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WebSession(Base):
    """A login. The session cookie carries a random token; this row keeps its SHA-256, so that
    logging out, a password change or an admin's change to the account ends it on the server
    (a copied cookie then opens nothing), and it ends at `expires_at` whatever the cookie says."""

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_why: Mapped[str | None] = mapped_column(String(20))  # logout | password | role | disabled | admin
    client: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class LoginFailure(Base):
    """A failed login, kept for the login limits' window: counted per account (the name as the
    login normalises it), per client address, and per both, by every server process alike."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(100))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    __table_args__ = (Index("ix_login_failure_account_at", "account", "at"),
                      Index("ix_login_failure_client_at", "client", "at"))


class AuditEvent(Base):
    """`source:subject:action` events: imports, entity merges/splits, logins."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), index=True)
    actor: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)


Index("ix_patent_pref_year", Patent.prefecture_code, Patent.app_date)
# (source_record lookups by (record_type, record_key) use the unique constraint's index.)

RIGHT_MODELS: dict[str, type[Base]] = {
    "patent": Patent,
    "trademark": Trademark,
    "gi": GeographicalIndication,
    "gi_mark_user": GIMarkUser,
    "copyright": Copyright,
    "plant_variety": PlantVariety,
    "transaction": RightTransaction,
    "pledge": Pledge,
    "case": EnforcementCase,
    "institution": Institution,
}


class SavedSearch(Base):
    """A search an account keeps (xjip.search.saved): its query and filters, and how many records
    imported since its owner last opened it match (counted after each commit)."""

    __tablename__ = "saved_search"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    new_sample: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)  # up to 20 [record_type, id]


# --- indicators (xjip/indicators, issue 12) ----------------------------------------------------

class IndicatorEntry(Base):
    """What staff enter by hand for the plan indicators, never overwritten: a correction is a new
    row naming the row it corrects (`supersedes_id`, unique: one correction per row); the current
    value is the row nobody superseded. `kind`: reported (an indicator's reported value),
    population (persons, per code and year), setting (an indicator setting, `value_json`),
    award (a patent's China Patent Award / national S&T award, `key` = its number)."""

    __tablename__ = "indicator_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(100))  # indicator id, setting name or patent number
    year: Mapped[int | None] = mapped_column(Integer)
    region_code: Mapped[str | None] = mapped_column(String(12))
    value: Mapped[float | None] = mapped_column(Float)
    value_json: Mapped[dict[str, Any] | None] = mapped_column(JSONN)
    unit: Mapped[str | None] = mapped_column(String(20))
    source_document: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("indicator_entry.id"), unique=True)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)  # a correction that removes the value
    __table_args__ = (Index("ix_indicator_entry_kind_key", "kind", "key"),)


class IndicatorPatent(Base):
    """One row per invention patent: what the high-value criteria need, kept current by the
    after-commit hook (xjip.indicators.facts) so the indicators are indexed GROUP BYs, not a
    reread of every patent's IPC list, family and pledges. `facts.rebuild` recounts it whole."""

    __tablename__ = "indicator_patent"
    patent_id: Mapped[int] = mapped_column(ForeignKey("patent.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[str | None] = mapped_column(String(12))  # prefecture / XPCC city, as the overview counts
    granted_on: Mapped[dt.date | None] = mapped_column(Date)
    filed_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)  # first date it was no longer in force
    ended_undated: Mapped[bool] = mapped_column(Boolean, default=False)  # terminal status, no dated event
    sei_code: Mapped[str | None] = mapped_column(String(10))
    sei_ipc: Mapped[str | None] = mapped_column(String(20))  # the concordance row that matched
    foreign_grant: Mapped[str | None] = mapped_column(String(40))  # a granted member in another country
    pledge_wan: Mapped[float | None] = mapped_column(Float)  # largest pledge naming it (10k CNY)
    pledge_key: Mapped[str | None] = mapped_column(String(60))
    pledge_on: Mapped[dt.date | None] = mapped_column(Date)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_indicator_patent_bucket", "bucket", "granted_on"),)


class IndicatorTrademark(Base):
    """One row per trademark: the years it counts as in force at year end (first_year ≤ Y <
    end_year), kept by the after-commit hook so the valid-trademark count is a prefix sum over
    `indicator_delta`, not a scan of every trademark."""

    __tablename__ = "indicator_trademark"
    trademark_id: Mapped[int] = mapped_column(ForeignKey("trademark.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[str | None] = mapped_column(String(12))
    first_year: Mapped[int | None] = mapped_column(Integer)  # NULL: never in force at a year end
    end_year: Mapped[int | None] = mapped_column(Integer)  # NULL: still in force
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class IndicatorDelta(Base):
    """Change of a year-end stock per (series, bucket, year): the stock at the end of year Y is the
    sum of `n` over years ≤ Y. Series 'tm' (trademarks in force) and 'hv:<settings fingerprint>'
    (high-value invention patents, award category aside). A row (series, '*', 0) marks a series
    as built; `xjip indicators check` compares every series with a full recount."""

    __tablename__ = "indicator_delta"
    series: Mapped[str] = mapped_column(String(60), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    synthetic: Mapped[int] = mapped_column(Integer, default=0)


class IndicatorRebuild(Base):
    """The rebuild of the indicator facts and series as a job (xjip.indicators.rebuild): one row
    (id 1), what the dashboard's progress shows. Each chunk of patents or trademarks is committed
    with its checkpoint (the last id done per table), so an interrupted rebuild continues there."""

    __tablename__ = "indicator_rebuild"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed | interrupted
    phase: Mapped[str | None] = mapped_column(String(20))  # patents | trademarks | series
    done: Mapped[int] = mapped_column(BigInteger, default=0)  # records of the phase done
    total: Mapped[int] = mapped_column(BigInteger, default=0)  # records of the phase
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)  # {"patent": id, "trademark": id}
    requested_by: Mapped[str | None] = mapped_column(String(100))
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    stop_requested: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)

# --- GI management (xjip.gi): special-mark applications, usage reports, e-commerce clues ---------

class GIMarkApplication(Base):
    """One application to use a GI special mark, through review, approval and revocation. The
    approved user is written to `gi_mark_user` (the hub's list); this row keeps the workflow."""

    __tablename__ = "gi_mark_application"
    id: Mapped[int] = mapped_column(primary_key=True)
    gi_id: Mapped[int] = mapped_column(ForeignKey("gi.id", ondelete="CASCADE"), index=True)
    applicant_name: Mapped[str] = mapped_column(String(300))
    credit_code: Mapped[str | None] = mapped_column(String(30), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    county_code: Mapped[str | None] = mapped_column(String(6), index=True)
    user_type: Mapped[str] = mapped_column(String(30))  # xjip.gi.marks.USER_TYPES (announcement 354)
    status: Mapped[str] = mapped_column(String(20), index=True)  # submitted | reviewed | approved | rejected | revoked
    documents: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    history: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)  # [{at, by, action, reason}]
    mark_user_id: Mapped[int | None] = mapped_column(ForeignKey("gi_mark_user.id"), index=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class GIUsageReport(Base):
    """A special-mark user's annual usage report (用标年报)."""

    __tablename__ = "gi_usage_report"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("gi_mark_application.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    output_tonnes: Mapped[float] = mapped_column(Float)
    sales_wan_yuan: Mapped[float] = mapped_column(Float)
    marks_used: Mapped[int] = mapped_column(BigInteger)
    quality_checks: Mapped[int] = mapped_column(Integer)
    quality_failed: Mapped[int] = mapped_column(Integer, default=0)
    price_yuan_per_kg: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    # submitted → accepted (locked) | returned (with a reason; the user corrects it → submitted)
    status: Mapped[str] = mapped_column(String(20), default="submitted", server_default="submitted", index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    review_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("application_id", "year", name="uq_gi_usage_report"),)


class GIEnterpriseLink(Base):
    """An enterprise account (`app_user.role` = enterprise) and a special-mark user it reports for.
    One account may hold several (a cooperative using two GIs' marks); one user may have several
    accounts (two clerks of the same company)."""

    __tablename__ = "gi_enterprise_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    mark_user_id: Mapped[int] = mapped_column(ForeignKey("gi_mark_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("user_id", "mark_user_id", name="uq_gi_enterprise_link"),)


class GIListing(Base):
    """A product listing imported from an e-commerce platform's search export."""

    __tablename__ = "gi_listing"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch: Mapped[str] = mapped_column(String(100), index=True)
    listing_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    shop: Mapped[str | None] = mapped_column(String(300))
    seller_location: Mapped[str | None] = mapped_column(String(300))
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    price: Mapped[float | None] = mapped_column(Float)
    listed_at: Mapped[dt.date | None] = mapped_column(Date)
    url: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    imported_by: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("listing_id", "batch", name="uq_gi_listing"),)


class GIClue(Base):
    """An infringement clue: one rule fired on one listing for one GI, with its evidence; then
    triage, referral to the seller's prefecture and the outcome."""

    __tablename__ = "gi_clue"
    id: Mapped[int] = mapped_column(primary_key=True)
    listing_row_id: Mapped[int] = mapped_column(ForeignKey("gi_listing.id", ondelete="CASCADE"), index=True)
    gi_id: Mapped[int | None] = mapped_column(ForeignKey("gi.id", ondelete="SET NULL"), index=True)
    gi_name: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(30), index=True)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONN, default=dict)
    status: Mapped[str] = mapped_column(String(20), index=True, default="new")  # xjip.gi.clues.STATUSES
    referred_to: Mapped[str | None] = mapped_column(String(12))  # prefecture (or province) code
    outcome: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)
    found_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class GIWhitelist(Base):
    """An authorised seller: clues on its listings for the GI (or any GI when gi_id is NULL) are not raised."""

    __tablename__ = "gi_whitelist"
    id: Mapped[int] = mapped_column(primary_key=True)
    gi_id: Mapped[int | None] = mapped_column(ForeignKey("gi.id", ondelete="CASCADE"), index=True)
    shop: Mapped[str] = mapped_column(String(300), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[str | None] = mapped_column(String(100))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("shop", "gi_id", name="uq_gi_whitelist"),)

class RightCount(Base):
    """Kept counts of the rights by the overview's dimensions, maintained by triggers on every
    right table (xjip.hub.counts); never written by the application itself."""

    __tablename__ = "right_count"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, nullable=False)
    year: Mapped[int] = mapped_column(Integer)  # 0: no date
    status: Mapped[str] = mapped_column(String(60))  # '': none
    bucket: Mapped[str] = mapped_column(String(12))  # xjip.hub.counts.bucket_sql
    no_title: Mapped[int] = mapped_column(Integer)
    no_party: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (UniqueConstraint("record_type", "is_synthetic", "year", "status", "bucket", "no_title",
                                       "no_party", name="uq_right_count"),)


class ImportRequest(Base):
    """An import the web asked for, waiting for the server's one import runner (with several
    web worker processes, imports run in one place: xjip.hub.pipeline.run_requested_jobs)."""

    __tablename__ = "import_request"
    job_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# The lists' keyset order (xjip.hub.queries._keyset_rows): real or synthetic, then the date and
# id newest first, whole or within a prefecture; each page walks one of these and stops.
LIST_DATES = {"patent": "app_date", "trademark": "app_date", "gi": "approval_date", "gi_mark_user": "approved_date",
              "copyright": "reg_date", "plant_variety": "app_date", "right_transaction": "date",
              "pledge": "reg_date", "enforcement_case": "accepted_date", "institution": "established_date"}
for _model in RIGHT_MODELS.values():
    _table = _model.__table__
    _date = LIST_DATES[_table.name]
    Index(f"ix_{_table.name}_list", _table.c.is_synthetic, _table.c[_date], _table.c.id)
    Index(f"ix_{_table.name}_pref_list", _table.c.prefecture_code, _table.c.is_synthetic, _table.c[_date],
          _table.c.id)


class PledgeNumber(Base):
    """Each number a pledge names (an item of pledge.right_numbers), kept by triggers on `pledge`
    (migration 0012): a record page finds the pledges of its right by index, not by reading every
    pledge's JSON list."""

    __tablename__ = "pledge_number"
    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(Integer, index=True)
    right_type: Mapped[str | None] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(60))
    __table_args__ = (Index("ix_pledge_number_lookup", "right_type", "number"),)
# A record page's transfers and licences: by right type and number together (without statistics,
# SQLite took the right_type index alone and sorted every transfer: 49 ms a page at 100,000).
Index("ix_right_transaction_lookup", RightTransaction.right_type, RightTransaction.right_number)

# --- semantic search (xjip/search/semantic) ---------------------------------------------------

class EmbedQueue(Base):
    """Records whose text changed and whose vector (per encoder) is not yet written: filled by the
    after-commit hook, emptied by `xjip embed`. A row leaves only after its vector is on disk, so
    an interrupted run resumes where it stopped."""

    __tablename__ = "embed_queue"
    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(20))
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("model", "record_type", "record_id", name="uq_embed_queue"),
                      Index("ix_embed_queue_model_id", "model", "id"))


class EmbedRun(Base):
    """The embedding worker's progress, one row per encoder: what the job page shows."""

    __tablename__ = "embed_run"
    model: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="idle")  # running | idle | interrupted | failed
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    texts_per_second: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class PlanTask(Base):
    """A main task (三（一）1…) or special project (专栏1–8) of the plan, tracked: responsible
    department, status, milestones and evidence (xjip/indicators/plan.py). Every change is an
    audit_event 'indicators:plan_task:update' with the values before and after."""

    __tablename__ = "plan_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # 三(二)3 | 专栏4
    kind: Mapped[str] = mapped_column(String(10))  # task | project
    parent_code: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    milestones: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)  # [{"due": "2027-12", "what": ..., "done": bool}]
    evidence: Mapped[list[Any] | None] = mapped_column(JSONN, default=list)  # [{"what": ..., "link": ...}]
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
