"""Column mappings chosen by staff for a layout nobody knew.

A patent export whose columns are not recognised fails with its unmapped columns listed
(`unmapped_columns`). On the job page staff choose a field for each column, see 20 rows as they
would be imported, and import again; the mapping is saved (`ColumnMapping`, keyed by the
header as compared: `_tabular.header_key`) and every later import of a file with the same header
uses it by itself (`for_import`, handed to the importer in the job's options at run time). A
file without a header row is mapped by column position ('#1', '#2'…); such a mapping is used
for that job only (there is no header to know the next file by).

Web routes, the JSON API and the CLI (`xjip import --mapping`) are thin layers over these."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from xjip.hub import models as m
from xjip.hub.importers.base import Source, iter_sources
from xjip.hub.records import PatentRecord, Rejection, SourceError
from xjip.hub.store import Store
from xjip.i18n import both

IMPORTER = "cn_biblio"  # the importer that takes column mappings (patent exports)
MAPPING_ERRORS = ("missing_columns", "unmapped_columns")
SHOW_ON = (*MAPPING_ERRORS, "unknown_format")  # a job page opens its mapping form by itself
IGNORE = "-"  # a column deliberately not imported
PREVIEW_ROWS = 20

# The fields offered for a column, in the order a person looks for them (labels: tabular.field.*).
FIELDS = (
    "app_number", "pub_number", "grant_number", "app_date", "pub_date", "grant_date", "title", "title_en",
    "title_original", "title_translated", "abstract", "abstract_en", "abstract_original", "abstract_translated",
    "claims", "applicants", "address", "applicants_std", "first_applicant", "current_owner", "current_owner_std",
    "applicant_province", "applicant_city", "applicant_county", "province", "inventors", "first_inventor",
    "agency", "agents", "ipc", "ipc_main", "cpc", "cpc_main", "patent_type", "pub_kind", "office", "legal_status",
    "legal_events", "family", "family_id", "priority", "priority_date", "earliest_priority_date", "first_pub_date",
    "pct_app_number", "citations", "transfer_count", "license_count", "pledge_count", "transfer_date",
    "license_date", "pledge_date", "lapse_date", "invalidation_date", "title_grant", "document_type", "url",
)


class MappingError(ValueError):
    """A mapping that cannot be used (an unknown field, no column mapped)."""

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        super().__init__(code)


def for_import(store: Store) -> dict[str, dict[str, str]]:
    """{header key: mapping} of every saved mapping, for the importer to find its header in."""
    with store.reading() as s:
        return {row.header_key: dict(row.mapping) for row in
                s.scalars(select(m.ColumnMapping).where(m.ColumnMapping.importer == IMPORTER))}


def importer_for(source: Source, options: dict[str, Any], refusal: SourceError) -> Any:
    """The patent importer for a table no importer recognised, when the run was given a column
    mapping (`xjip import --mapping`, the job page) or its header has a saved one; else the
    refusal stands."""
    from xjip.hub.importers import _tabular, cn_biblio

    if refusal.rejection.code != "unknown_format" or not _is_table(source):
        raise refusal
    if options.get("mapping") or options.get("column_mapping"):
        return cn_biblio.importer
    saved = options.get("_saved_mappings")
    if not saved:
        raise refusal
    try:
        header = _tabular.table_sample(source, aliases=cn_biblio.ALIASES, rows=1)["header"]
    except SourceError:
        raise refusal from None
    if _tabular.header_key(header) not in saved:
        raise refusal
    return cn_biblio.importer


def job_source(store: Store, job_id: int) -> tuple[m.ImportJob, Source] | None:
    """A job and the tabular source to map: the one that failed on its columns, else the first."""
    with store.reading() as s:
        job = s.get(m.ImportJob, job_id)
        if job is None:
            return None
        s.expunge(job)
    try:
        sources = list(iter_sources(job.path))
    except (SourceError, OSError):
        return None
    failed = [src for src in sources if (job.checkpoint or {}).get(src.name, {}).get("error")]
    for src in failed + sources:
        try:
            if _is_table(src):
                return job, src
        except (SourceError, OSError):
            continue
    return None


def _is_table(source: Source) -> bool:
    from xjip.hub.importers import _tabular, cn_biblio

    head = source.head()
    if _tabular.workbook_kind(head):
        return True
    text = cn_biblio._head_text(head)
    return bool(text) and not cn_biblio._looks_sql(text) and cn_biblio._first_json(text) is None


def mappable(job: dict[str, Any]) -> bool:
    """A job whose page offers the mapping: a patent export (or a file no importer claimed)
    that failed on its columns, or any finished patent-export job (to map it again)."""
    error = job.get("error") or {}
    if error.get("code") in SHOW_ON:
        return True
    return job.get("format") == IMPORTER and bool(job.get("finished"))


def view(store: Store, job_id: int, mapping: dict[str, str] | None = None, headerless: bool = False,
         lang: str = "zh") -> dict[str, Any] | None:
    """What the mapping form shows: each column (header, sample values, the field chosen or
    recognised), the fields to choose from, and the preview of the first rows as mapped."""
    from xjip.hub.importers import _tabular, cn_biblio

    found = job_source(store, job_id)
    if found is None:
        return None
    job, source = found
    mapping = _job_mapping(job) if mapping is None else mapping
    if mapping and _tabular.split_mapping(mapping)[2]:
        headerless = True
    try:
        sample = _tabular.table_sample(source, aliases={**cn_biblio.ALIASES}, headerless=headerless,
                                       rows=PREVIEW_ROWS)
    except SourceError as exc:
        return {"job_id": job_id, "source": source.name, "error": _message(exc.rejection, lang), "columns": [],
                "fields": field_choices(lang), "headerless": headerless, "preview": None}
    header = sample["header"]
    saved = None
    if not headerless:
        with store.reading() as s:
            row = s.scalars(select(m.ColumnMapping).where(
                m.ColumnMapping.importer == IMPORTER,
                m.ColumnMapping.header_key == _tabular.header_key(header))).first()
            if row is not None:
                saved = {"id": row.id, "by": row.updated_by or row.created_by,
                         "at": row.updated_at or row.created_at, "job_id": row.job_id}
                if not mapping:
                    mapping = dict(row.mapping)
    chosen = _fields_of(header, mapping, headerless)
    columns = []
    for i, name in enumerate(header):
        samples = [cells[i] for _, cells in sample["rows"] if i < len(cells) and cells[i]][:3]
        columns.append({"index": i, "header": name if not headerless else "", "position": f"#{i + 1}",
                        "samples": [v[:80] for v in samples], "field": chosen.get(i)})
    return {"job_id": job_id, "source": source.name, "header_line": sample["line"], "headerless": headerless,
            "columns": columns, "fields": field_choices(lang), "saved": saved, "error": None,
            "mapping": form_mapping(header, {c["index"]: c["field"] for c in columns}, headerless),
            "preview": preview(source, form_mapping(header, {c["index"]: c["field"] for c in columns}, headerless),
                               lang)}


def _job_mapping(job: m.ImportJob) -> dict[str, str] | None:
    options = job.options or {}
    inline = options.get("column_mapping")
    if isinstance(inline, dict) and inline:
        return {str(k): str(v) for k, v in inline.items()}
    if options.get("mapping"):
        from xjip.hub.importers import _tabular

        try:
            return _tabular.load_mapping(options["mapping"])
        except SourceError:
            return None
    return None


def _fields_of(header: list[str], mapping: dict[str, str] | None, headerless: bool) -> dict[int, str]:
    """{column index: field} as an import with this mapping would read the header."""
    from xjip.hub.importers import _tabular, cn_biblio

    names, positions, _ = _tabular.split_mapping(mapping)
    placed = {i: (cn_biblio.canonical_field(f) or f) for i, f in positions.items()}
    if not headerless:
        try:
            aliases, _, _ = cn_biblio._tool_layout(header, names or None, cn_biblio.MAPPING_NAME)
        except SourceError:
            aliases = cn_biblio.ALIASES
        hmap = _tabular.HeaderMap(header, aliases, placed)
        placed = {i: field for field, indexes in hmap.positions.items() for i in indexes}
    return {i: (IGNORE if f == cn_biblio.IGNORED else f) for i, f in placed.items()}


def form_mapping(header: list[str], fields: dict[int, str | None], headerless: bool) -> dict[str, str]:
    """{column index: field} as a mapping: by header name, or by position ('#3') where the file
    has no header, the header cell is empty or the same name stands twice."""
    from xjip.hub.importers._tabular import normalise_header

    counts: dict[str, int] = {}
    for h in header:
        counts[normalise_header(h)] = counts.get(normalise_header(h), 0) + 1
    out: dict[str, str] = {}
    for i, field in sorted(fields.items()):
        if not field:
            continue
        name = header[i] if i < len(header) else ""
        if headerless or not name or counts.get(normalise_header(name), 0) > 1:
            out[f"#{i + 1}"] = field
        else:
            out[name] = field
    return out


def from_form(header_len: int, form: dict[str, str]) -> dict[int, str]:
    """The form's `col_<index>` selects → {index: field} (unknown fields refused)."""
    from xjip.hub.importers import cn_biblio

    out: dict[int, str] = {}
    for key, value in form.items():
        if not key.startswith("col_") or not key[4:].isdigit():
            continue
        index, value = int(key[4:]), (value or "").strip()
        if index >= max(header_len, 1) or index > 5000:
            continue
        if not value:
            continue
        if value != IGNORE and (value not in FIELDS or cn_biblio.canonical_field(value) is None):
            raise MappingError("mapping_field", value=value[:60])
        out[index] = value
    return out


def preview(source: Source, mapping: dict[str, str], lang: str = "zh") -> dict[str, Any]:
    """The first rows as this mapping imports them: the record's main fields, or the reason
    a row would be refused; or the reason the whole file would be (columns still missing)."""
    from xjip.hub.importers import cn_biblio

    rows: list[dict[str, Any]] = []
    try:
        items = cn_biblio.importer.parse(source, {"column_mapping": mapping} if mapping else {})
        for item in items:
            if isinstance(item, Rejection):
                zh, en = _messages(item)
                rows.append({"line": item.locator.line, "ok": False, "code": item.code,
                             "field": item.field, "message": zh if lang == "zh" else en})
            elif isinstance(item, PatentRecord):
                rows.append({"line": item.locator.line if item.locator else None, "ok": True,
                             "app_number": item.app_number, "pub_number": item.pub_number, "title": item.title,
                             "applicants": "；".join(p.name for p in item.applicants[:3]),
                             "app_date": item.app_date, "pub_date": item.pub_date,
                             "ipc": " ".join(item.ipc[:3]), "inventors": "；".join(item.inventors[:3])})
            if len(rows) >= PREVIEW_ROWS:
                break
        items.close()
    except SourceError as exc:
        return {"rows": rows, "error": _message(exc.rejection, lang), "code": exc.rejection.code}
    return {"rows": rows, "error": None, "code": None}


def _messages(rejection: Rejection) -> tuple[str, str]:
    return both(f"import.error.{rejection.code}", **rejection.params)


def _message(rejection: Rejection, lang: str) -> str:
    zh, en = _messages(rejection)
    return zh if lang == "zh" else en


def field_choices(lang: str = "zh") -> list[dict[str, str]]:
    from xjip.i18n import t

    return [{"name": f, "label": t(f"tabular.field.{f}", lang)} for f in FIELDS]


def apply(store: Store, job_id: int, mapping: dict[str, str], actor: str | None,
          headerless: bool = False) -> dict[str, Any]:
    """Save the mapping (for the file's header) and import with it: the job that failed on its
    columns starts again on that file (nothing of it was stored); a finished job gets a new job
    for the same file. Returns {job_id, mapping_id}."""
    from xjip.hub import pipeline
    from xjip.hub.importers import _tabular, cn_biblio

    found = job_source(store, job_id)
    if found is None:
        raise MappingError("mapping_no_source")
    job, source = found
    used = {k: v for k, v in mapping.items() if v != IGNORE}
    if not used:
        raise MappingError("mapping_empty")
    for target in used.values():
        if cn_biblio.canonical_field(target) is None:
            raise MappingError("mapping_field", value=str(target)[:60])
    mapping_id = None
    if not headerless:
        sample = _tabular.table_sample(source, aliases=cn_biblio.ALIASES, rows=1)
        key = _tabular.header_key(sample["header"])
        now = m.utcnow()
        with store.session() as s:
            row = s.scalars(select(m.ColumnMapping).where(m.ColumnMapping.importer == IMPORTER,
                                                          m.ColumnMapping.header_key == key)).first()
            if row is None:
                row = m.ColumnMapping(importer=IMPORTER, header_key=key, header=sample["header"], mapping=mapping,
                                      created_by=actor, job_id=job_id)
                s.add(row)
            else:
                row.mapping, row.updated_by, row.updated_at, row.job_id = mapping, actor, now, job_id
            s.flush()
            mapping_id = row.id
            s.add(m.AuditEvent(tag="hub:mapping:save", actor=actor,
                               details={"job_id": job_id, "mapping_id": row.id, "columns": len(used)}))
    options = {k: v for k, v in (job.options or {}).items() if k not in ("mapping", "column_mapping", "format")}
    options["column_mapping"] = mapping
    options["format"] = IMPORTER
    if job.status in m.ImportJob.RESUMABLE or job.status == "partial":
        with store.session() as s:
            fresh = s.get(m.ImportJob, job_id)
            checkpoint = dict(fresh.checkpoint or {})
            checkpoint.pop(source.name, None)
            dropped = s.execute(delete(m.ImportRejection).where(
                m.ImportRejection.job_id == job_id, m.ImportRejection.file == source.name,
                m.ImportRejection.record.is_(None))).rowcount or 0
            fresh.checkpoint, fresh.options, fresh.error = checkpoint, options, None
            fresh.format = IMPORTER
            fresh.rejected_count = max((fresh.rejected_count or 0) - dropped, 0)
            fresh.status, fresh.finished_at = "queued", None
            s.add(m.AuditEvent(tag="hub:import:remap", actor=actor, details={"job_id": job_id}))
        return {"job_id": job_id, "mapping_id": mapping_id, "new_job": False}
    new_id = pipeline.create_job(store, job.path, display_name=job.display_name, actor=actor, format=IMPORTER,
                                 options=options)
    return {"job_id": new_id, "mapping_id": mapping_id, "new_job": new_id != job_id}
