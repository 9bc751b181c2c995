"""Hub subcommands: `xjip db`, `xjip init`, `xjip import`, `xjip jobs`, `xjip demo`."""
from __future__ import annotations

import json
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from xjip.cli import emit, format_option
from xjip.hub.records import SourceError
from xjip.i18n import both, t


def _fail(zh: str, en: str, code: int = 2) -> None:
    click.echo(f"错误：{zh}\nError: {en}", err=True)
    sys.exit(code)


@contextmanager
def _job_outcomes() -> Iterator[None]:
    """An import that is already running elsewhere, or that Ctrl-C stopped (exit code 130, as
    a shell reports an interrupted command), told in both languages with what to do next."""
    from xjip.hub.pipeline import ImportAlreadyRunning, ImportInterrupted

    try:
        yield
    except ImportAlreadyRunning as exc:
        _fail(*both("import.error.already_running", job_id=exc.job_id), code=3)
    except ImportInterrupted as exc:
        _fail(*both("import.interrupted", job_id=exc.job_id), code=130)


@click.group("db")
def db() -> None:
    """Database schema / 数据库结构."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Any) -> None:
    """Apply migrations up to head / 迁移到最新版本."""
    obj.store  # noqa: B018 - opening the store migrates
    click.echo(f"schema at {obj.store.current_revision()} ({obj.store.dialect})")


@db.command("check-counts")
@click.option("--repair", is_flag=True, help="Rebuild the kept counts from a full recount / 按全表重新计数重建")
@format_option
@click.pass_obj
def db_check_counts(obj: Any, repair: bool, fmt: str) -> None:
    """Compare the overview's kept counts with a full recount (exit 1 if they differ) /
    核对概览的保存计数与全表重新计数."""
    from xjip.hub import counts

    lang = obj.settings.default_language
    with obj.store.reading() as s:
        result = counts.check(s)
    if repair and not result["ok"]:
        with obj.store.session() as s:
            result["repaired_groups"] = counts.rebuild(s)
        with obj.store.reading() as s:
            result["after_repair"] = counts.check(s)

    def render(data: dict[str, Any]) -> None:
        if data["ok"]:
            click.echo(t("perf.counts.ok", lang, groups=data["groups"], n=f"{data['recounted']:,}"))
            return
        click.echo(t("perf.counts.differ", lang, k=data["different_groups"], kept=f"{data['kept']:,}",
                     recounted=f"{data['recounted']:,}"))
        for d in data["differences"][:20]:
            click.echo(f"  {d['key']}: {d['kept']} ≠ {d['recounted']}")
        if "after_repair" in data:
            click.echo(t("perf.counts.repaired", lang, groups=data["repaired_groups"]))

    emit(result, fmt, render)
    final = result.get("after_repair", result)
    if not final["ok"]:
        sys.exit(1)


@click.command("init")
@click.option("--no-reference", is_flag=True, help="Skip loading reference data")
@click.pass_obj
def init(obj: Any, no_reference: bool) -> None:
    """Create the schema and load the reference tables shipped with the package, and the law texts of
    shared/data when it is there / 初始化数据库与参考数据."""
    store = obj.store
    if not no_reference:
        load_reference(store)
    click.echo(f"ready: {store.url.split('@')[-1]} ({store.dialect})")


def load_reference(store: Any) -> dict[str, int]:
    """The reference tables the package ships; the law texts from shared/data when it is there."""
    from xjip.hub.reference import laws_available, load_all

    shared = store.settings.shared_data_dir
    with click.progressbar(length=1, label="参考数据 / reference data") as bar, store.session() as s:
        counts = load_all(s, shared)
        bar.update(1)
    click.echo(", ".join(f"{k}={v}" for k, v in counts.items()))
    click.echo("\n".join(both("fresh.reference.tables")))
    if not laws_available(shared):
        click.echo("\n".join(both("fresh.reference.laws_skipped", path=str(Path(shared) / "legal"))))
    return counts


class _Progress:
    """A tqdm bar over the bytes of the source, with live counts."""

    def __init__(self, enabled: bool):
        self.bar = None
        self.enabled = enabled

    def __call__(self, job: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            # a resumed job starts where it stopped: its rate and time left count this run only
            self.bar = tqdm(total=job.bytes_total or 0, initial=getattr(job, "run_bytes_start", None) or 0,
                            unit="B", unit_scale=True, desc=f"job {job.id}", file=sys.stderr)
        self.bar.n = job.bytes_done or 0
        self.bar.set_postfix(read=job.read_count, new=job.inserted_count, upd=job.updated_count,
                             same=job.unchanged_count, rej=job.rejected_count, refresh=False)
        self.bar.refresh()
        if job.status in ("done", "failed", "partial", "interrupted"):
            self.bar.close()


def job_summary(job: Any) -> dict[str, Any]:
    from xjip.hub.queries import job_run, place_method_shares

    share = (job.placed_count / job.addressed_count) if job.addressed_count else None
    return {"id": job.id, "status": job.status, "source": job.display_name, "format": job.format,
            "read": job.read_count, "inserted": job.inserted_count, "updated": job.updated_count,
            "unchanged": job.unchanged_count, "rejected": job.rejected_count, "merged": job.merged_count or 0,
            "addressed": job.addressed_count, "placed": job.placed_count,
            "place_resolved_share": round(share, 4) if share is not None else None,
            "place_methods": place_method_shares(job.place_methods),
            "error": job.error, "created_at": job.created_at, "finished_at": job.finished_at, "run": job_run(job)}


def _job_report(store: Any, job: Any) -> dict[str, Any]:
    """A job's summary and, when it rejected records, how many for each reason; its notes
    (records taken with a remark, `import_notes`) when it has any, and its recorded conflicts."""
    from xjip.hub.import_notes import job_notes
    from xjip.hub.queries import job_conflicts, rejection_summary

    data = job_summary(job)
    with store.reading() as s:
        if job.rejected_count:
            data["rejection_summary"] = rejection_summary(s, job.id)
        data["conflicts"] = job_conflicts(s, job.id, limit=20)
        notes = job_notes(s, job.id, limit=5)
    if notes["total"]:
        data["notes"] = notes
    return data


def _print_job(data: dict[str, Any]) -> None:
    click.echo(f"作业/job {data['id']}: {_status_words(data['status'])}  {data['source']} [{_format_words(data['format'])}]")
    click.echo(f"  读取 read {data['read']}  新增 inserted {data['inserted']}  更新 updated {data['updated']}  "
               f"未变 unchanged {data['unchanged']}  拒绝 rejected {data['rejected']}")
    if data.get("merged") or (data.get("conflicts") or {}).get("total"):
        click.echo(f"  {t('records.job.merged_line')} {data.get('merged') or 0}  "
                   f"{t('records.job.conflicts_line')} {(data.get('conflicts') or {}).get('total', 0)}")
        for c in (data.get("conflicts") or {}).get("items", [])[:5]:
            click.echo(f"    {c['number']} [{c['field']}]: {c['kept']!r} ≠ {c['other']!r} ({c['other_source']}"
                       f"{', ' + c['other_locator'] if c.get('other_locator') else ''})")
    run = data.get("run") or {}
    if run.get("records_per_second"):
        click.echo(f"  本次运行 this run: {run['seconds']:,.1f} s, {run['records_per_second']:,} 条/秒 records/s")
    if data["place_resolved_share"] is not None:
        click.echo(f"  地址解析到行政区 places resolved: {data['placed']}/{data['addressed']} "
                   f"({data['place_resolved_share']:.1%})")
    if data.get("place_methods"):
        click.echo("  定位方式 placed by:")
        for group in data["place_methods"]:
            zh, en = both(f"places.method.{group['method']}")
            click.echo(f"    {zh} / {en}: {group['count']:,} ({group['share']:.1%})")
    for group in data.get("rejection_summary", [])[:5]:
        field = f" [{group['field']}]" if group["field"] else ""
        click.echo(f"  {group['count']:,} × {group['code']}{field}: {group['example_zh']}")
        click.echo(f"      e.g. {group['example_en']}")
    notes = data.get("notes")
    if notes:
        click.echo("  " + " / ".join(both("xmlrepair.cli.notes", count=f"{notes['total']:,}")))
        for n in notes["items"]:
            where = f"{n['file']}:#{n['record']}:line {n['line']}"
            click.echo(f"    {where}: {n['message_zh']}")
            click.echo(f"      {n['message_en']}")
    if data["error"]:
        click.echo(f"  错误 {data['error'].get('locator')}: {data['error'].get('message_zh')}")
        click.echo(f"  error {data['error'].get('locator')}: {data['error'].get('message_en')}")


@click.command("import")
@click.argument("path", type=click.Path(exists=False))
@click.option("--importer", "source_format", help="Force an importer by name (see `xjip import-formats`)")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), help="Column-mapping file for other layouts")
@click.option("--licence", help="Licence of the source, kept as provenance")
@click.option("--synthetic", is_flag=True, help="Mark every record as synthetic")
@click.option("--batch-size", type=int, help="Records per transaction")
@click.option("--report", type=click.Path(dir_okay=False), help="Write rejected records to this CSV")
@click.option("--quiet", is_flag=True, help="No progress bar")
@format_option
@click.pass_obj
def import_(obj: Any, path: str, source_format: str | None, mapping: str | None, licence: str | None,
            synthetic: bool, batch_size: int | None, report: str | None, quiet: bool, fmt: str) -> None:
    """Import a file, folder, .gz or .zip (format detected from content) / 导入数据.

    Re-running changes nothing; an interrupted import resumes where it stopped."""
    from xjip.hub.pipeline import run_import, write_rejection_report

    options: dict[str, Any] = {}
    if mapping:
        options["mapping"] = str(Path(mapping).resolve())
    if licence:
        options["licence"] = licence
    if synthetic:
        options["synthetic"] = True
    if batch_size:
        options["batch_size"] = batch_size
    try:
        with _job_outcomes():
            job = run_import(obj.store, path, format=source_format, options=options,
                             progress=_Progress(not quiet and fmt == "text"))
    except SourceError as exc:
        r = exc.rejection
        zh, en = both(f"import.error.{r.code}", **r.params)
        _fail(f"{r.locator}: {zh}", f"{r.locator}: {en}")
        return
    data = _job_report(obj.store, job)
    if report:
        data["report"] = report
        data["report_rows"] = write_rejection_report(obj.store, job.id, report)
    emit(data, fmt, _print_job)
    if job.status == "failed":
        sys.exit(1)


@click.command("import-formats")
@format_option
def import_formats(fmt: str) -> None:
    """List the importers and what they read / 支持的导入格式."""
    from xjip.hub.formats import importer_formats

    def show(d: list[dict[str, Any]]) -> None:
        for x in d:
            click.echo(f"{x['name']:<22} {','.join(x['record_types']):<16} {x['description_zh']}")
            click.echo(f"{'':<39} {x['description_en']}")

    emit(importer_formats(), fmt, show)


@click.group("jobs")
def jobs() -> None:
    """Import jobs / 导入作业."""


@jobs.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500),
              help="Newest jobs shown / 显示最新的作业数")
@format_option
@click.pass_obj
def jobs_list(obj: Any, limit: int, fmt: str) -> None:
    """Recent import jobs with their counts / 最近的导入作业."""
    from sqlalchemy import func, select

    from xjip.hub import models as m
    from xjip.hub.pipeline import iter_jobs

    data = [job_summary(j) for j in iter_jobs(obj.store, limit)]
    with obj.store.reading() as s:
        total = int(s.scalar(select(func.count()).select_from(m.ImportJob)) or 0)
    if fmt == "json":
        emit({"total": total, "shown": len(data), "items": data}, fmt, None)
        return
    _print_jobs(data, total)


# (header zh, header en, key, width); the counts say what a re-import did: 未变 = read again, unchanged
_JOB_COLUMNS = (("作业", "job", "id", 5), ("读取", "read", "read", 9), ("新增", "inserted", "inserted", 9),
                ("更新", "updated", "updated", 8), ("未变", "unchanged", "unchanged", 9),
                ("拒绝", "rejected", "rejected", 8))


def _status_words(status: str | None) -> str:
    return " / ".join(dict.fromkeys(t(f"web.job_status.{status}", lang) for lang in ("zh", "en")))


def _format_words(fmt: str | None) -> str:
    return fmt or " / ".join(both("pages.job.format_unknown"))


def _columns(text: str) -> int:
    """Terminal columns a text takes: a Chinese character takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, left: bool = False) -> str:
    fill = " " * max(width - _columns(text), 0)
    return text + fill if left else fill + text


def _print_jobs(data: list[dict[str, Any]], total: int) -> None:
    if not data:
        click.echo(" / ".join(both("pages.jobs.none")))
        return
    status_width = max(_columns(_status_words(x["status"])) for x in data) + 2
    for lang in ("zh", "en"):
        cells = [_pad(zh if lang == "zh" else en, w) for zh, en, _k, w in _JOB_COLUMNS]
        click.echo(" ".join(cells) + "  " + _pad(t("pages.jobs.status", lang), status_width, left=True)
                   + t("pages.jobs.source", lang))
    for x in data:
        cells = [_pad(f"{x[k] or 0:,}" if k != "id" else str(x[k]), w) for _zh, _en, k, w in _JOB_COLUMNS]
        click.echo(" ".join(cells) + "  " + _pad(_status_words(x["status"]), status_width, left=True) + x["source"])
    if total > len(data):
        click.echo("\n".join(both("pages.jobs.more", shown=len(data), total=total)))


@jobs.command("show")
@click.argument("job_id", type=int)
@format_option
@click.pass_obj
def jobs_show(obj: Any, job_id: int, fmt: str) -> None:
    """One job: status, counts, share of places resolved, error / 作业详情."""
    from xjip.hub import models as m

    with obj.store.reading() as s:
        job = s.get(m.ImportJob, job_id) if m.is_row_id(job_id) else None
        if job is None:
            _fail(f"作业 {job_id} 不存在", f"job {job_id} not found")
        data = _job_report(obj.store, job)
    emit(data, fmt, _print_job)


@jobs.command("resume")
@click.argument("job_id", type=int)
@format_option
@click.pass_obj
def jobs_resume(obj: Any, job_id: int, fmt: str) -> None:
    """Resume an interrupted or failed job / 继续中断的作业."""
    from xjip.hub.pipeline import run_job

    with _job_outcomes():
        job = run_job(obj.store, job_id, progress=_Progress(fmt == "text"))
    emit(_job_report(obj.store, job), fmt, _print_job)


@jobs.command("stop")
@click.argument("job_id", type=int)
@click.pass_obj
def jobs_stop(obj: Any, job_id: int) -> None:
    """Ask a running job, in whichever process runs it (the web server's too), to stop after its
    next commit; resume it later with `xjip jobs resume` / 停止正在运行的作业."""
    from xjip.hub.pipeline import job_status, request_stop

    if not request_stop(obj.store, job_id):
        status = job_status(obj.store, job_id)
        if status is None:
            _fail(f"作业 {job_id} 不存在", f"job {job_id} not found")
        _fail(*both("import.error.not_running", job_status=status), code=3)
    click.echo("\n".join(both("import.stop_requested", job_id=job_id)))


@jobs.command("report")
@click.argument("job_id", type=int)
@click.argument("path", type=click.Path(dir_okay=False))
@click.pass_obj
def jobs_report(obj: Any, job_id: int, path: str) -> None:
    """Write the rejected records of a job to CSV / 导出拒绝记录."""
    from xjip.hub.pipeline import write_rejection_report

    n = write_rejection_report(obj.store, job_id, path)
    click.echo(f"{n} rejected records → {path}")


commands = [db, init, import_, import_formats, jobs]


@click.command("demo")
@click.option("--synthetic-patents", default=2000, show_default=True, help="Size of the synthetic sample")
@click.option("--synthetic-rights", default=200, show_default=True,
              help="Synthetic trademarks, copyrights, transfers/licences per sample (fewer of the rarer rights)")
@click.pass_obj
def demo(obj: Any, synthetic_patents: int, synthetic_rights: int) -> None:
    """Load the demo data: reference data, the real public data in ../shared/data (when it is
    there) and a small synthetic sample (every synthetic record labelled) / 加载演示数据."""
    from xjip.hub.demo import demo_paths
    from xjip.hub.pipeline import run_import

    store = obj.store
    shared = store.settings.shared_data_dir
    load_reference(store)
    real = demo_paths(shared)
    # where the real samples come from, or why there are none: said before the imports start
    if real:
        click.echo("\n".join(both("fresh.demo.real_samples", n=len(real), path=shared)))
    else:
        click.echo("\n".join(both("fresh.demo.no_real_samples", path=shared)))
    for path, source in real:
        try:
            with _job_outcomes():
                job = run_import(store, path, options={"licence": source.licence}, display_name=source.path,
                                 progress=_Progress(True))
        except SourceError as exc:
            click.echo(f"skipped {source.path}: {exc}", err=True)
            continue
        _print_job(job_summary(job))
    if synthetic_patents:
        from xjip.hub.synth import load_vocabulary, write_cn_biblio_csv

        out = Path(store.settings.data_dir) / "synth" / f"synthetic_patents_{synthetic_patents}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        # written every time (deterministic, about a second): a file left by an older version never stands in
        write_cn_biblio_csv(out, synthetic_patents, seed=2026, shared=shared or None)
        source = load_vocabulary(shared or None).titles_source
        click.echo("\n".join(both(f"fresh.demo.synthetic_titles_{source}")))
        job = run_import(store, out, options={"synthetic": True, "licence": "synthetic (xjip synth)"},
                         display_name=f"synthetic sample ({synthetic_patents})", progress=_Progress(True))
        _print_job(job_summary(job))
    if synthetic_rights:
        from xjip.hub.synth_rights import write_rights

        folder = Path(store.settings.data_dir) / "synth" / f"synthetic_rights_{synthetic_rights}"
        if folder.exists():
            shutil.rmtree(folder)  # rewritten, as the patents above
        # the rights name the patents of the sample above (same size and seed)
        counts = write_rights(folder, synthetic_rights, seed=2026, patents=synthetic_patents or 50, patent_seed=2026,
                              shared=shared or None)
        if "gi_mark_user" not in counts:
            click.echo("\n".join(both("fresh.demo.no_gi_users")))
        job = run_import(store, folder, options={"synthetic": True, "licence": "synthetic (xjip synth)"},
                         display_name=f"synthetic sample of the other rights ({synthetic_rights})",
                         progress=_Progress(True))
        _print_job(job_summary(job))


commands.append(demo)


@click.group("entities")
def entities_group() -> None:
    """Owners behind many spellings: show, merge, split / 权利人实体."""


@entities_group.command("show")
@click.argument("entity_id", type=int)
@format_option
@click.pass_obj
def entities_show(obj: Any, entity_id: int, fmt: str) -> None:
    """An entity with its aliases and record counts / 实体详情."""
    from xjip.hub.queries import entity_detail

    with obj.store.reading() as s:
        data = entity_detail(s, entity_id, masked=False)  # the CLI is an operator's tool
    if data is None:
        _fail(f"实体 {entity_id} 不存在", f"entity {entity_id} not found")
    emit(data, fmt, lambda d: click.echo(json.dumps(d, ensure_ascii=False, indent=2, default=str)))


@entities_group.command("merge")
@click.argument("keep_id", type=int)
@click.argument("merge_ids", type=int, nargs=-1, required=True)
@click.option("--actor", default="cli", show_default=True)
@format_option
@click.pass_obj
def entities_merge(obj: Any, keep_id: int, merge_ids: tuple[int, ...], actor: str, fmt: str) -> None:
    """Merge entities into KEEP_ID; their records follow / 合并实体."""
    from xjip.hub.entities import EntityError
    from xjip.hub.entity_records import merge_entities

    try:
        with obj.store.session() as s:
            result = merge_entities(s, keep_id, merge_ids, actor, source="cli")
    except EntityError as exc:
        _fail(*both(f"reference.entity.{exc.code}", **exc.params))
        return
    emit(result, fmt, lambda d: click.echo(f"merged {d.get('merged_ids')} → {keep_id}; "
                                           f"{d.get('records_repointed')} records re-pointed"))


@entities_group.command("split")
@click.argument("entity_id", type=int)
@click.argument("aliases", nargs=-1, required=True)
@click.option("--name", "new_name", required=True, help="Name of the new entity")
@click.option("--actor", default="cli", show_default=True)
@format_option
@click.pass_obj
def entities_split(obj: Any, entity_id: int, aliases: tuple[str, ...], new_name: str, actor: str, fmt: str) -> None:
    """Move ALIASES of ENTITY_ID to a new entity; their records follow / 拆分实体."""
    from xjip.hub.entities import EntityError
    from xjip.hub.entity_records import split_entity

    try:
        with obj.store.session() as s:
            result = split_entity(s, entity_id, aliases, new_name, actor, source="cli")
    except EntityError as exc:
        _fail(*both(f"reference.entity.{exc.code}", **exc.params))
        return
    emit(result, fmt, lambda d: click.echo(f"new entity {d.get('new_entity_id')}; "
                                           f"{d.get('records_repointed')} records re-pointed"))


commands.append(entities_group)
