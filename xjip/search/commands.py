"""`xjip search QUERY`, `xjip search --analyse QUERY`, `xjip search --rebuild`."""
from __future__ import annotations

import json
from typing import Any, NoReturn

import click

from xjip.i18n import both, t
from xjip.search import live

live.install()


def _lang(obj: Any) -> str:
    return getattr(obj.settings, "default_language", "zh") or "zh"


def _fail(message: str, as_json: bool, payload: dict[str, Any], exit_code: int = 2) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": payload}, ensure_ascii=False, indent=2))
    else:
        click.echo(message, err=True)
    raise SystemExit(exit_code)


def _rebuild(store: Any, lang: str, as_json: bool, restart: bool) -> None:
    """The rebuild in the foreground with a progress bar on stderr; Ctrl-C keeps what is committed
    (exit 130, a rerun continues); refused (exit 1) while another process runs it."""
    import sys

    from tqdm import tqdm

    from xjip.search.index import RebuildInterrupted, RebuildRunning, backend_for

    bar: Any = None

    def progress(state: dict[str, Any]) -> None:
        nonlocal bar
        if as_json:
            return
        if bar is None:  # a resumed build starts where it stopped: its rate counts this run only
            bar = tqdm(total=state["total"], initial=state.get("run_done_start") or 0, unit="rec", file=sys.stderr,
                       desc=t("search.cli.rebuilding", lang))
        bar.total = state["total"]
        bar.n = min(state["done"], state["total"])
        bar.set_postfix_str(state.get("type", ""), refresh=False)
        bar.refresh()

    def both_fail(msg_id: str, exit_code: int, **params: Any) -> NoReturn:
        zh, en = both(msg_id, **params)
        _fail(f"{zh}\n{en}", as_json, {"code": msg_id.rsplit(".", 1)[-1], "message_zh": zh, "message_en": en,
                                        **params}, exit_code)

    backend = backend_for(store.settings)
    try:
        result = backend.rebuild(store, progress, restart=restart, actor="cli")
    except RebuildRunning as exc:
        both_fail("search.cli.rebuild_running", 1, pid=exc.pid, host=exc.host)
    except RebuildInterrupted:
        if bar is not None:
            bar.close()
        state = backend.status()
        both_fail("search.cli.rebuild_interrupted", 130, done=state.get("checkpoint", {}).get("done", 0),
                  total=state.get("total", 0))
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(t("search.cli.rebuilt", lang, done=result["done"], seconds=result["seconds"],
                     mb=round(result["bytes"] / 1e6, 1)))


@click.command("search")
@click.argument("query", required=False)
@click.option("--type", "record_type", type=click.Choice(list(__import__("xjip.search.documents", fromlist=["x"]).INDEXED_TYPES)),
              help="Only this type of record / 只检索此类记录")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Results / 结果数")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format / 输出格式")
@click.option("--analyse", "analyse", is_flag=True, help="Analyse the whole result set / 检索分析")
@click.option("--rebuild", is_flag=True, help="Rebuild the index from the database, then swap it in / 重建索引")
@click.option("--restart", is_flag=True,
              help="With --rebuild: start again from nothing, even when a rebuild was cut off / 从头重建")
@click.option("--status", "show_status", is_flag=True, help="Show the index's state / 索引状态")
@click.pass_obj
def search(obj: Any, query: str | None, record_type: str | None, limit: int, sort: str, fmt: str, analyse: bool,
           rebuild: bool, restart: bool, show_status: bool) -> None:
    """Search every right the hub holds (expert syntax: TI= PA= IPC=A01B* AD=2019..2021 …) /
    检索平台上的全部权利（支持专家检索式）。"""
    from xjip.search import service
    from xjip.search.index import backend_for
    from xjip.search.query import QueryError

    lang = _lang(obj)
    as_json = fmt == "json"
    store = obj.store
    if rebuild:
        _rebuild(store, lang, as_json, restart)
        return
    if restart:
        _fail(t("search.cli.restart_alone", lang), as_json, {"code": "restart_alone"})
    if show_status:
        click.echo(json.dumps(backend_for(store.settings).status(), ensure_ascii=False, indent=2, default=str))
        return
    if not query:
        _fail(t("search.error.empty", lang, column=1), as_json, {"code": "empty"})
    filters = service.Filters(type=record_type)
    try:
        if analyse:
            data = service.analyse(store, query, filters)
        else:
            data = service.search(store, query, filters, size=min(limit, service.MAX_SIZE), sort=sort,
                                  masked=False, with_facets=False)
            if limit > service.MAX_SIZE:
                hits = service.result_ids(store, query, filters, limit)
                data["items"] = service.describe(store, [(ty, i, 0.0) for ty, i in hits], data["terms"], False)
    except QueryError as exc:
        _fail(exc.message_zh if lang == "zh" else exc.message_en, as_json, exc.as_dict())
        return
    except service.IndexNotReady:
        _fail(t("search.error.no_index", lang), as_json, {"code": "no_index"})
        return
    if as_json:
        for item in data.get("items", []):
            item.pop("title_html", None)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    if analyse:
        click.echo(t("search.cli.total", lang, total=data["total"]))
        for key in ("filings", "grants", "applicants", "ipc_grp", "prefectures", "provinces", "status", "coapplicants"):
            click.echo(f"\n{t('search.analysis.' + key, lang)}")
            for b in data[key][:15]:
                label = b.get("label") or ""
                click.echo(f"  {b['value']:<16} {label[:30]:<30} {b['count']:>8,}")
        return
    click.echo(t("search.cli.total", lang, total=data["total"]))
    for item in data["items"]:
        date = item.get("date") or ""
        click.echo(f"{item['record_type']:<13} {str(item.get('number') or ''):<20} {str(date):<10} "
                   f"{str(item.get('title') or '')[:40]}  {str(item.get('party') or '')[:30]}")


commands = [search]
