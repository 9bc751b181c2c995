"""The plan's main tasks (三、主要任务: （一）…（七）, each with its numbered tasks) and special
projects (专栏1–8) as trackable items, read from the plan's text (shared/plan, read in place).
Staff record the responsible department, status, milestones and evidence; each change is kept
as an audit event with the values before and after, so "dynamic adjustment" has data."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.indicators.entries import EntryError

STATUSES = ("not_started", "in_progress", "done", "at_risk", "adjusted")
_SECTION = re.compile(r"^（([一二三四五六七])）(.+)$")
_TASK = re.compile(r"^(\d+)\.(.+)$")
_PROJECT = re.compile(r"^\s*专栏(\d)：(.+)$")


def plan_file(shared_dir: str | Path) -> Path:
    return Path(shared_dir).parent / "plan" / "xinjiang_ip_15th_five_year_plan_draft.txt"


def parse(text: str) -> list[dict[str, Any]]:
    """Items of 三、主要任务 (up to 四、): sections, their numbered tasks, and the 专栏 projects with the
    text that follows each heading."""
    items: list[dict[str, Any]] = []
    lines = text.splitlines()
    inside, section, last = False, None, None
    for line in lines:
        raw = line.strip()
        if raw.startswith("三、主要任务"):
            inside = True
            continue
        if inside and raw.startswith("四、"):
            break
        if not inside or not raw:
            continue
        if mo := _PROJECT.match(line):
            last = {"code": f"专栏{mo.group(1)}", "kind": "project", "parent_code": section, "title": mo.group(2).strip(),
                    "text": ""}
            items.append(last)
        elif mo := _SECTION.match(raw):
            section = f"三({mo.group(1)})"
            last = {"code": section, "kind": "task", "parent_code": None, "title": mo.group(2).strip()[:200], "text": ""}
            items.append(last)
        elif (mo := _TASK.match(raw)) and section:
            last = {"code": f"{section}{mo.group(1)}", "kind": "task", "parent_code": section,
                    "title": mo.group(2).strip()[:200], "text": ""}
            items.append(last)
        elif last is not None:
            last["text"] = (last["text"] + "\n" + raw).strip()
    return items


def load(session: Session, shared_dir: str | Path) -> dict[str, int]:
    """Insert items not yet tracked; what staff recorded on existing ones is kept."""
    items = parse(plan_file(shared_dir).read_text(encoding="utf-8"))
    have = set(session.scalars(select(m.PlanTask.code)))
    added = 0
    for it in items:
        if it["code"] not in have:
            session.add(m.PlanTask(**it, status="not_started", milestones=[], evidence=[]))
            added += 1
    return {"items": len(items), "added": added}


def as_dict(t: m.PlanTask) -> dict[str, Any]:
    return {"id": t.id, "code": t.code, "kind": t.kind, "parent_code": t.parent_code, "title": t.title, "text": t.text,
            "department": t.department, "status": t.status, "milestones": t.milestones or [], "evidence": t.evidence or [],
            "updated_by": t.updated_by, "updated_at": t.updated_at.isoformat() if t.updated_at else None}


def listing(session: Session) -> list[dict[str, Any]]:
    return [as_dict(t) for t in session.scalars(select(m.PlanTask).order_by(m.PlanTask.id))]


def update(session: Session, code: str, actor: str, *, department: str | None = None, status: str | None = None,
           milestone: dict[str, Any] | None = None, evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    task = session.scalar(select(m.PlanTask).where(m.PlanTask.code == code))
    if task is None:
        raise EntryError("not_found", "code", value=code[:20])
    if status is not None and status not in STATUSES:
        raise EntryError("bad_status", "status", value=status[:20])
    before = as_dict(task)
    if department is not None:
        if len(department) > 200:
            raise EntryError("too_long", "department", limit=200)
        task.department = department.strip() or None
    if status is not None:
        task.status = status
    if milestone:
        if not str(milestone.get("what") or "").strip():
            raise EntryError("required", "milestone")
        task.milestones = [*(task.milestones or []), {k: milestone.get(k) for k in ("due", "what", "done")}]
    if evidence:
        if not str(evidence.get("what") or "").strip():
            raise EntryError("required", "evidence")
        task.evidence = [*(task.evidence or []), {k: evidence.get(k) for k in ("what", "link")}]
    task.updated_by, task.updated_at = actor, m.utcnow()
    after = as_dict(task)
    session.add(m.AuditEvent(tag="indicators:plan_task:update", actor=actor,
                             details={"code": code, "before": before, "after": after}))
    session.flush()
    return after


def trail(session: Session, code: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(m.AuditEvent).where(m.AuditEvent.tag == "indicators:plan_task:update")
                           .order_by(m.AuditEvent.id.desc()).limit(500))
    return [{"at": r.at.isoformat(), "actor": r.actor, **r.details} for r in rows if (r.details or {}).get("code") == code]
