"""A record as a patent searcher reads it: the fields grouped (bibliographic data, parties,
classification, legal status and events, family, source) and each value in words instead of
codes: languages and countries by name, IPC codes with their titles, places by name at their
level, events as dated rows, claims with their own numbers. The JSON twin keeps the data as
stored; this is only what the page shows."""
from __future__ import annotations

import gettext
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub.queries import XPCC_NODE
from xjip.i18n import catalogue, t

# Section ids in page order; each type lists its fields per section. A field of the model that no
# section names is still shown, under "other": a column added later is never hidden by accident.
SECTIONS = ("biblio", "parties", "classification", "area", "status", "family", "source")

FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "patent": {
        "biblio": ("title", "title_en", "patent_type", "country", "app_number", "app_date", "pub_number", "pub_date",
                   "kind_code", "grant_number", "grant_date", "pct_app_number", "priorities", "language",
                   "claims_count", "abstract"),
        "parties": ("first_applicant", "inventors", "agency", "agency_code", "agents"),
        "classification": ("ipc_main", "ipc", "ipc_edition", "cpc"),
        "status": ("status", "legal_status", "transfer_count", "license_count", "pledge_count"),
        "family": ("family_id", "citations"),
    },
    "trademark": {
        "biblio": ("word_element", "transliterations", "mark_kind", "mark_feature", "office", "app_number", "app_date",
                   "reg_number", "reg_date", "expiry_date"),
        "parties": ("owner_name", "owner_address", "agent"),
        "classification": ("nice_classes", "similar_groups", "goods"),
        "status": ("status", "status_date"),
    },
    "gi": {
        "biblio": ("name", "gi_system", "category", "registration_no", "announcement_no", "approval_date",
                   "approval_date_text", "standard", "nice_class", "authority"),
        "parties": ("applicant",),
        "area": ("protected_area_text",),
        "status": ("status", "confidence"),
        "source": ("source_url", "notes"),
    },
    "gi_mark_user": {
        "biblio": ("user_name", "gi_name", "credit_code", "announcement_no", "approved_date", "revoked_date"),
        "parties": ("address",),
    },
    "copyright": {
        "biblio": ("title", "kind", "category", "completion_date", "first_publication_date", "reg_date"),
        "parties": ("owner_name", "owner_address", "authors"),
    },
    "plant_variety": {
        "biblio": ("name", "species", "grant_number", "app_date", "grant_date"),
        "parties": ("applicant", "applicant_address", "breeders"),
        "status": ("status",),
    },
    "transaction": {
        "biblio": ("kind", "right_type", "right_number", "record_number", "licence_type", "date", "end_date",
                   "amount_wan"),
        "parties": ("from_party", "to_party", "to_address"),
    },
    "pledge": {
        "biblio": ("right_type", "right_numbers", "reg_date", "end_date", "amount_wan"),
        "parties": ("pledgor", "pledgor_address", "pledgee"),
        "status": ("status",),
    },
    "case": {
        "biblio": ("kind", "right_type", "cause", "authority", "accepted_date", "closed_date", "result", "amount_wan"),
        "parties": ("plaintiffs", "defendants", "address"),
    },
    "institution": {
        "biblio": ("name", "kind", "credit_code", "licence_number", "established_date", "staff_count", "agents_count"),
        "parties": ("address", "phone", "contact"),
    },
}
PROVENANCE = ("source", "source_format", "licence", "imported_at", "import_job_id", "place_method")

# Never rows of their own: internal ids and keys (the official number heads the page), the place
# codes (the place is shown by name), what other panels show (claims, events, the owner link).
HIDDEN = frozenset({"id", "key", "region_code", "prefecture_code", "county_code", "province_code", "is_synthetic",
                    "updated_at", "first_claim", "events", "gi_id", "first_applicant_entity_id", "owner_entity_id",
                    "applicant_entity_id", "entity_id", "to_entity_id", "pledgor_entity_id"})
LONG = frozenset({"abstract", "goods", "protected_area_text", "notes", "result", "cause", "legal_status"})
CODED = {"status": "status", "patent_type": "kind", "kind": "kind", "mark_kind": "kind", "gi_system": "kind",
         "right_type": "type", "licence_type": "licence_type", "mark_feature": "mark_feature",
         "confidence": "confidence", "place_method": "place_method"}

# WIPO ST.3 codes of offices that are not countries (pycountry names the countries).
OFFICE_NAMES = ("EP", "WO", "EM", "EA", "AP", "OA", "GC", "XN", "XV", "IB")


@dataclass
class Row:
    key: str
    label: str
    value: Any = None  # text, or a list of texts
    kind: str = "text"  # text | long | list | masked | link | ipc | lines
    href: str | None = None
    note: str | None = None


@dataclass
class Section:
    id: str
    title: str
    rows: list[Row] = field(default_factory=list)


def _has(msg_id: str, lang: str) -> bool:
    return msg_id in catalogue(lang) or msg_id in catalogue("zh")


def label(prefix: str, value: Any, lang: str) -> str:
    msg_id = f"web.{prefix}.{value}"
    return t(msg_id, lang) if _has(msg_id, lang) else str(value)


def field_label(name: str, record_type: str, lang: str) -> str:
    for msg_id in (f"pages.field.{record_type}.{name}", f"web.field.{name}"):
        if _has(msg_id, lang):
            return t(msg_id, lang)
    return name


# --- words for codes -----------------------------------------------------------------------

@lru_cache(maxsize=4)
def _iso_translation(domain: str, lang: str) -> gettext.NullTranslations:
    import pycountry

    if lang == "en":
        return gettext.NullTranslations()
    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["zh_CN"])
    except OSError:
        return gettext.NullTranslations()


def country_name(code: str | None, lang: str) -> str | None:
    """ISO 3166 / WIPO ST.3 code → the country's or office's name (pycountry's ISO names and their
    Chinese translations; our catalogue for the regional offices)."""
    if not code:
        return None
    code = code.strip().upper()
    if code in OFFICE_NAMES:
        return t(f"pages.office.{code}", lang)
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    if lang == "zh":
        if code == "TW":
            return "中国台湾"
        return _iso_translation("iso3166-1", lang).gettext(country.name)
    return getattr(country, "common_name", None) or country.name


def language_name(code: str | None, lang: str) -> str | None:
    """ISO 639-1 code → the language's name ("zh" → 中文 / Chinese)."""
    if not code:
        return None
    import pycountry

    found = pycountry.languages.get(alpha_2=code.strip().lower()[:2])
    if found is None:
        return code
    name = _iso_translation("iso639-3", lang).gettext(found.name) if lang == "zh" else found.name
    return name.split(";")[0].strip()


def gi_category(value: str | None, lang: str) -> str | None:
    """A GI product category as compiled in English ("fruit (apricot)", "medicinal/fruit (goji)")
    in the page's language, term by term from the catalogue (`pages.gi_term.*`): 水果（杏）."""
    if not value:
        return value
    match = re.fullmatch(r"\s*(.*?)\s*\((.*)\)\s*", value)
    base, detail = (match.group(1), match.group(2)) if match else (value, None)

    def term(text: str) -> str:
        text = text.strip()
        key = f"pages.gi_term.{text.lower()}"
        if _has(key, lang):
            return t(key, lang)
        mixed = re.fullmatch(r"([A-Za-z][A-Za-z _\-]*?)\s+([^\x00-\x7f].*)", text)  # "northern pike 乔尔泰"
        if mixed and _has(f"pages.gi_term.{mixed.group(1).lower()}", lang):
            return f"{t('pages.gi_term.' + mixed.group(1).lower(), lang)} {mixed.group(2)}"
        return text.replace("_", " ")

    sep, inner, left, right = ("/", "，", "（", "）") if lang == "zh" else ("/", ", ", " (", ")")
    out = sep.join(term(p) for p in base.split("/"))
    if detail:
        out += left + inner.join(term(p) for p in detail.split(",")) + right
    return out


@lru_cache(maxsize=256)
def format_words(name: str, lang: str) -> str:
    """An importer's name in words, the head of its description (`xjip import-formats`):
    gi_list → 新疆地理标志汇编清单, tpl_case → 导入模板：执法/司法案件."""
    from xjip.hub.formats import describe
    from xjip.hub.importers.base import load_importers

    importer = load_importers().get(name)
    if importer is None:
        return name
    zh, en = describe(importer)
    text = (zh if lang == "zh" else en).split("（")[0].split(" (")[0].strip()
    if not text.startswith(("导入模板", "Import template")):
        text = re.split(r"：|: ", text)[0].strip()
    return text or name


def claims_numbered(claims: list[Any]) -> list[str]:
    """Each claim with its own number once: a claim text that starts with its number ("1.一种…",
    "2、根据…") keeps it; one without gets "n. " (the page does not number again)."""
    out = []
    for n, claim in enumerate(claims, start=1):
        text = str(claim or "").strip()
        if not text:
            continue
        out.append(text if re.match(r"^\s*\d+\s*[.．、:：)]", text) else f"{n}. {text}")
    return out


# --- classification lookups ------------------------------------------------------------------

# Built once: building a statement per page cost more than running it.
_IPC_TITLES = select(m.IpcClass.code, m.IpcClass.title_zh, m.IpcClass.title_en).where(
    m.IpcClass.code.in_(bindparam("codes", expanding=True)))
_NICE_HEADINGS = select(m.NiceClass.code, m.NiceClass.heading_zh, m.NiceClass.heading_en).where(
    m.NiceClass.code.in_(bindparam("codes", expanding=True)))
_SIMILAR_GROUPS = select(m.SimilarGroup.code, m.SimilarGroup.name_zh).where(
    m.SimilarGroup.code.in_(bindparam("codes", expanding=True)))


def _ipc_key(code: str) -> str:
    return re.sub(r"\s+", "", code or "").upper()


def ipc_titles(session: Session, codes: list[str], lang: str) -> dict[str, str | None]:
    """IPC code → its title in the page's language (the other language when missing), from the
    shipped IPC tables; a code the table lacks gets its main group's title, then its subclass's."""
    wanted: dict[str, list[str]] = {}
    for code in codes:
        key = _ipc_key(code)
        group = re.match(r"^([A-H]\d{2}[A-Z])(\d+)/", key)
        tries = [key]
        if group:
            tries += [f"{group.group(1)}{group.group(2)}/00", group.group(1)]
        wanted[code] = tries
    every = {c for tries in wanted.values() for c in tries}
    if not every:
        return {}
    rows = session.connection().execute(_IPC_TITLES, {"codes": sorted(every)}).all()
    titles = {code: (zh, en) for code, zh, en in rows}
    out: dict[str, str | None] = {}
    for code, tries in wanted.items():
        found = next((titles[c] for c in tries if c in titles), None)
        out[code] = ((found[0] or found[1]) if lang == "zh" else (found[1] or found[0])) if found else None
    return out


def nice_headings(session: Session, codes: list[str], lang: str) -> dict[str, str | None]:
    keys = {c: str(c).strip().zfill(2) for c in codes if str(c).strip().isdigit()}
    if not keys:
        return {}
    rows = session.connection().execute(_NICE_HEADINGS, {"codes": sorted(set(keys.values()))}).all()
    found = {code: (zh if lang == "zh" else (en or zh)) for code, zh, en in rows}
    return {c: found.get(k) for c, k in keys.items()}


def similar_group_names(session: Session, codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.connection().execute(_SIMILAR_GROUPS, {"codes": sorted({str(c) for c in codes})}).all()
    return dict(rows)


# --- events --------------------------------------------------------------------------------

def event_rows(events: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Events as dated rows in words: date · what happened (the category's name, then the
    office's own wording), with the office's code apart."""
    out = []
    for e in events or []:
        if not isinstance(e, dict):
            continue
        category = e.get("category")
        what = label("event", category, lang) if category and category != "other" else None
        description = e.get("description")
        if what and description and description.strip().lower() == what.strip().lower():
            description = None
        out.append({"date": e.get("event_date") or e.get("date"), "what": what, "description": description,
                    "code": e.get("code")})
    return out


# --- places --------------------------------------------------------------------------------

def place_words(place: dict[str, Any] | None, lang: str) -> str:
    """A place by name at its level: "伊犁哈萨克自治州 · 霍城县", "河南省" for a record placed in
    another province only, 未定位 when nothing is known. English names from the shipped table."""
    from xjip.hub.region_names import region_name

    if not place:
        return t("web.place.unresolved", lang)
    parts = []
    for code_key, name_key in (("prefecture_code", "prefecture"), ("county_code", "county")):
        code, name = place.get(code_key), place.get(name_key)
        if code == XPCC_NODE and place.get("county_code"):
            continue  # a statistical node, not a place: the XPCC city alone says where
        if code or name:
            shown = (name if lang == "zh" else None) or region_name(code, lang) or name
            if shown and shown not in parts:
                parts.append(shown)
    if not parts and (place.get("region_code") or place.get("region")):
        code = place.get("region_code")
        shown = region_name(code, lang) or region_name((code or "")[:6], lang) or place.get("region")
        if shown:
            parts.append(shown)
    return " · ".join(parts) if parts else t("web.place.unresolved", lang)


# --- the page --------------------------------------------------------------------------------

def _text(value: Any, lang: str) -> Any:
    import datetime as dt

    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return t("web.common.yes" if value else "web.common.no", lang)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.2f}"
    return value


def _join(items: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(i for i in items if i)


def _priority(p: Any, lang: str) -> str:
    if not isinstance(p, dict):
        return str(p)
    country = country_name(p.get("country"), lang)
    bits = [p.get("number") or ""]
    extra = [x for x in (country, p.get("date")) if x]
    return bits[0] + (f"（{'，'.join(extra)}）" if lang == "zh" else f" ({', '.join(extra)})") if extra else bits[0]


def value_row(session: Session, record_type: str, key: str, value: Any, data: dict[str, Any], lang: str,
              zone: str | None = None) -> Row | None:
    row = Row(key, field_label(key, record_type, lang))
    if key in data.get("masked", []):
        row.kind = "masked"
        return row
    if key == "imported_at" and value is not None and zone:
        from xjip.i18n import local_time

        value = local_time(value, zone)
    if value is None or value == "" or value == [] or value == {}:
        return None
    fields = data["fields"]
    if key in CODED:
        row.value = label(CODED[key], value, lang)
    elif key in ("country", "office"):
        row.value = country_name(value, lang)
    elif key == "language":
        row.value = language_name(value, lang)
    elif key == "category" and record_type == "gi":
        row.value = gi_category(value, lang)
    elif key == _party(record_type) and (data.get("related") or {}).get("owner_entity"):
        owner = data["related"]["owner_entity"]
        row.kind, row.value, row.href = "link", _display_name(record_type, key, value), f"/entities/{owner['id']}"
    elif key == "applicant" and record_type == "gi":
        row.value = _display_name(record_type, key, value)
    elif key in ("ipc", "cpc"):
        codes = [str(c) for c in value if c]
        titles = ipc_titles(session, codes, lang) if key == "ipc" else {}
        row.kind, row.value = "ipc", [{"code": c, "title": titles.get(c)} for c in codes]
    elif key == "ipc_main":
        row.kind, row.value = "ipc", [{"code": value, "title": ipc_titles(session, [value], lang).get(value)}]
    elif key == "nice_classes":
        codes = [str(c) for c in value if c]
        headings = nice_headings(session, codes, lang)
        row.kind, row.value = "ipc", [{"code": c, "title": headings.get(c)} for c in codes]
    elif key == "nice_class":
        row.kind, row.value = "ipc", [{"code": value, "title": nice_headings(session, [value], lang).get(value)}]
    elif key == "similar_groups":
        codes = [str(c) for c in value if c]
        names = similar_group_names(session, codes)
        row.kind, row.value = "ipc", [{"code": c, "title": names.get(c)} for c in codes]
    elif key == "priorities":
        row.kind, row.value = "lines", [_priority(p, lang) for p in value]
    elif key == "transliterations" and isinstance(value, dict):
        row.kind = "lines"
        row.value = [f"{field_label('tr_' + k, record_type, lang) if _has('pages.field.trademark.tr_' + k, lang) else k}：{v}"
                     for k, v in value.items() if v]
    elif key == "title_en" and value == fields.get("title"):
        return None  # an English-language record's title is already shown once
    elif key == "approval_date_text" and _text(fields.get("approval_date"), lang) == value:
        return None  # the same date twice says nothing
    elif key == "source_url" and isinstance(value, str) and value.startswith(("http://", "https://")):
        row.kind, row.value, row.href = "url", value, value
    elif key == "notes" and record_type == "gi":
        row.kind, row.value = "long", _gi_notes(fields)
    elif isinstance(value, list):
        items = [_list_item(v, lang) for v in value]
        row.value = _join([i for i in items if i], lang)
    elif isinstance(value, dict):
        row.kind, row.value = "lines", [f"{field_label(k, record_type, lang)}：{_text(v, lang)}" for k, v in value.items()
                                        if _text(v, lang) is not None]
    elif key == "source_format":
        row.value, row.note = format_words(value, lang), value
    elif key == "import_job_id":
        row.value = f"#{value}"
    else:
        row.value = _text(value, lang)
        if key in LONG:
            row.kind = "long"
    return row if row.value not in (None, "", []) or row.kind == "masked" else None


def _party(record_type: str) -> str | None:
    from xjip.hub.queries import TYPES

    spec = TYPES.get(record_type)
    return spec.party if spec is not None and spec.entity else None


def _list_item(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return value.get("name") or value.get("number") or "；".join(f"{v}" for v in value.values() if v)
    return str(_text(value, lang) or "")


def _display_name(record_type: str, key: str, value: Any) -> Any:
    if record_type == "gi" and key == "applicant":
        from xjip.hub.importers.gi_list import split_name_note

        return split_name_note(value)[0]
    return value


def _gi_notes(fields: dict[str, Any]) -> str:
    """A GI's notes, with the note an older import left in the applicant's name."""
    from xjip.hub.importers.gi_list import split_name_note

    notes = fields.get("notes") or ""
    _name, note = split_name_note(fields.get("applicant"))
    if note and note not in notes:
        notes = "\n".join(x for x in (notes, f"申请人说明 / applicant note: {note}") if x)
    return notes


def section_title(section: str, record_type: str, lang: str) -> str:
    """A section's title, in the words of the record type where they differ (a case's parties)."""
    own = f"pages.section.{section}.{record_type}"
    return t(own, lang) if _has(own, lang) else t(f"pages.section.{section}", lang)


def build(session: Session, data: dict[str, Any], record_type: str, lang: str, zone: str | None = None) -> dict[str, Any]:
    """The page's sections, rows in words, the claims, the events and the place."""
    fields = data["fields"]
    plan = FIELDS.get(record_type, {})
    named = {k for keys in plan.values() for k in keys} | set(PROVENANCE)
    sections = {sid: Section(sid, section_title(sid, record_type, lang)) for sid in (*SECTIONS, "other")}
    for sid, keys in plan.items():
        for key in keys:
            if key in fields:
                row = value_row(session, record_type, key, fields.get(key), data, lang, zone)
                if row:
                    sections[sid].rows.append(row)
    for key in fields:
        if key not in named and key not in HIDDEN:
            row = value_row(session, record_type, key, fields.get(key), data, lang, zone)
            if row:
                sections["other"].rows.append(row)
    place = Row("place", t("web.field.place", lang), place_words(data.get("place"), lang))
    sections["source"].rows.insert(0, place)
    for key in PROVENANCE:
        if key in fields:
            row = value_row(session, record_type, key, fields.get(key), data, lang, zone)
            if row:
                sections["source"].rows.append(row)
    related = data.get("related") or {}
    events = related.get("events") if record_type == "patent" else fields.get("events")
    text = related.get("text") or {}
    return {
        "sections": {sid: s for sid, s in sections.items()},
        "events": event_rows(events or [], lang),
        "claims": claims_numbered(text.get("claims") or []),
        "number_label": field_label("number", record_type, lang) if _has(f"pages.field.{record_type}.number", lang)
        else None,
        "place": place.value,
    }
