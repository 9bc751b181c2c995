"""Notes of an import job: remarks on records that were taken all the same (`records.Note`,
e.g. a bare `&` escaped to read an XML document). They are kept in `import_rejection` beside
the rejections, with codes of their own (`records.NOTE_CODES`), so that they share its
locations, messages and report; they are never counted or listed as rejections."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub.records import NOTE_CODES

NOTES_SHOWN = 20


def not_a_note() -> Any:
    """The condition that keeps an `import_rejection` row a rejection."""
    return m.ImportRejection.code.not_in(NOTE_CODES)


def job_notes(session: Session, job_id: int, limit: int = NOTES_SHOWN) -> dict[str, Any]:
    """{"total": n, "items": the first `limit`, located, in both languages}."""
    r = m.ImportRejection
    where = (r.job_id == job_id, r.code.in_(NOTE_CODES))
    total = session.scalar(select(func.count()).select_from(r).where(*where)) or 0
    rows = session.scalars(select(r).where(*where).order_by(r.id).limit(min(limit, 1000))).all() if total else []
    return {"total": int(total),
            "items": [{"file": n.file, "record": n.record, "line": n.line, "code": n.code,
                       "message_zh": n.message_zh, "message_en": n.message_en} for n in rows]}
