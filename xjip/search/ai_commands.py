"""`xjip embed`, `xjip semantic`, `xjip classify`: the "AI+" half of the search part (issue 11
§5-6), thin over xjip.search.semantic and xjip.search.classify."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

import xjip.search.semantic  # noqa: F401 - `xjip import` in this process queues what it writes for embedding
from xjip.cli import emit
from xjip.i18n import both, t
from xjip.search.semantic.texts import EMBEDDED_TYPES

fmt_option = click.option("--format", "fmt", type=click.Choice(["text", "json", "table"]), default="text",
                          show_default=True, help="Output format / 输出格式")


def _fail(msg_id: str, code: int = 2, **params: Any) -> None:
    zh, en = both(msg_id, **params)
    click.echo(f"错误：{zh}\nError: {en}", err=True)
    sys.exit(code)


def _type_label(record_type: str) -> str:
    return t("search.type.law" if record_type == "law" else f"web.type.{record_type}", "zh")


def _semantic():  # noqa: ANN202 - the encoder's model loads on first use, not here
    from xjip.search.semantic import embed, search

    return embed, search


@click.command("embed")
@click.option("--model", type=click.Choice(["e5", "static", "all"]), default="all", show_default=True,
              help="Which index to fill: e5 = the shipped encoder, static = the distilled model / 哪个向量索引")
@click.option("--missing", is_flag=True, help="First queue every record that has no vector yet / 先补排所有缺向量的记录")
@click.option("--type", "record_types", multiple=True, type=click.Choice(list(EMBEDDED_TYPES)),
              help="Only these record types (repeatable; default: every embedded type) / 仅处理这些记录类型")
@click.option("--limit", type=click.IntRange(min=1), help="Embed at most this many, then stop (resumable) / 最多处理条数")
@click.option("--batch", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--status", "show_status", is_flag=True, help="Show progress only / 仅显示进度")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def embed_command(obj: Any, model: str, missing: bool, record_types: tuple[str, ...], limit: int | None, batch: int,
                  show_status: bool, fmt: str) -> None:
    """Build the semantic-search vectors of queued records of every embedded type (patents,
    trademarks, GIs, copyrights, plant varieties, cases, institutions, law articles; resumable:
    Ctrl-C keeps what is done) / 生成语义检索向量（可中断、可续）."""
    embed, _ = _semantic()
    store = obj.store
    if show_status:
        def show(rows: list[dict[str, Any]]) -> None:
            for r in rows:
                click.echo(f"{r['model']}: {r['vectors']:,} / {r['records']:,} · {both('ai.embed.queued', n=r['queued'])[0]} · {r['status']}")
                for b in r["by_type"]:
                    click.echo(f"  {_type_label(b['record_type'])}: {b['vectors']:,} / {b['records']:,}"
                               f" · {both('ai.embed.queued', n=b['queued'])[0]}")
        emit(embed.status(store), fmt, show)
        return
    names = embed.models_enabled(store) if model == "all" else [model]
    if model == "static" and "static" not in embed.models_enabled(store):
        _fail("ai.error.no_static")
    results = []
    for name in names:
        if missing:
            embed.enqueue_missing(store, name, record_types or None)

        def on_type(record_type: str, done: int, total: int, name: str = name) -> None:
            # one line per type, rewritten in place on a terminal; its last state always printed
            if fmt == "text" and (sys.stderr.isatty() or done >= total):
                line = both("ai.embed.type_progress", model=name, type=_type_label(record_type), done=f"{done:,}",
                            total=f"{total:,}")[0]
                click.echo(f"\r{line}", nl=done >= total, err=True)
        try:
            results.append(embed.run(store, name, batch=batch, limit=limit, on_type=on_type,
                                     record_types=record_types or None))
        except embed.EmbedAlreadyRunning as exc:
            _fail("ai.error.embed_running", code=3, model=exc.model, pid=exc.pid, host=exc.host)
        except KeyboardInterrupt:
            _fail("ai.embed.interrupted", code=130, model=name)
    emit(results, fmt, lambda rows: [click.echo(
        " / ".join(both("ai.embed.done", model=r["model"], n=r["embedded"], vectors=r["vectors"],
                        rate=r["texts_per_second"] or 0))) for r in rows])


@click.command("semantic")
@click.argument("query", required=False)
@click.option("--distil", is_flag=True, help="Build the static model distilled from the encoder / 蒸馏静态模型")
@click.option("--size", type=click.IntRange(100, 200_000), default=15_000, show_default=True,
              help="Vocabulary words of the distilled model / 蒸馏词表大小")
@click.option("--chars", type=click.IntRange(0, 20_000), help="Single characters kept as the fallback (default: size/4) / 单字数")
@click.option("--similar", "similar_to", type=click.IntRange(1, 2**31 - 1),
              help="Records similar to this record id (of --type, default patent) / 相似记录")
@click.option("--type", "record_type", type=click.Choice(list(EMBEDDED_TYPES)),
              help="Only this record type (default: every embedded type) / 仅此类记录")
@click.option("--hybrid", is_flag=True, help="Fuse every registered ranker (lexical + semantic) / 混合排序")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@fmt_option
@click.pass_obj
def semantic_command(obj: Any, query: str | None, distil: bool, size: int, chars: int | None, similar_to: int | None,
                     record_type: str | None, hybrid: bool, limit: int, fmt: str) -> None:
    """Semantic search over every embedded record type: describe what you need in a sentence /
    语义检索：用一句话描述所需."""
    embed, search = _semantic()
    store = obj.store
    if distil:
        from xjip.search.semantic.distil import distil as run_distil

        def progress(done: int, total: int) -> None:
            click.echo(f"\r{done:,}/{total:,}", nl=done == total, err=True)
        report = run_distil(store, size, progress, chars)
        embed.enqueue_missing(store, "static")
        emit(report, "json" if fmt == "json" else "text",
             lambda r: click.echo(" / ".join(both("ai.distil.done", tokens=r["tokens"], dim=r["dim"], path=r["path"]))))
        return
    if similar_to is not None:
        kind = record_type or "patent"
        hits = [(kind, i, s) for i, s in search.similar(store, similar_to, limit, kind)]
    elif query and query.strip():
        filters = {"type": record_type} if record_type else None
        hits = search.hybrid(store, query, limit, filters)[0] if hybrid else \
            search.semantic_ranker(store, query, limit, filters)
    else:
        _fail("ai.error.empty_query")
        return
    rows = search.hydrate(store, hits, masked=False)
    emit(rows, "json" if fmt == "json" else "text", lambda rs: [click.echo(
        f"{r['score']:.3f}  {_type_label(r['record_type'])}  {r['number'] or ''}  {r['class'] or '':<12} {r['title'] or ''}")
        for r in rs])


@click.command("classify")
@click.argument("text", required=False)
@click.option("--train", "do_train", is_flag=True, help="Build the model from the real labelled records / 训练模型")
@click.option("--top", type=click.IntRange(1, 20), default=5, show_default=True)
@fmt_option
@click.pass_obj
def classify_command(obj: Any, text: str | None, do_train: bool, top: int, fmt: str) -> None:
    """IPC auto-classification: top subclasses and main groups of a title/abstract/claims /
    IPC 自动分类. TEXT '-' reads standard input."""
    from xjip.search.classify import ClassifyInputError, ModelMissing, classify, train

    settings = obj.settings
    if do_train:
        report = train(settings.data_dir, settings.shared_data_dir)
        emit(report, "json" if fmt == "json" else "text",
             lambda r: click.echo(json.dumps(r, ensure_ascii=False, indent=2, default=str)))
        return
    if text == "-":
        text = sys.stdin.read()
    try:
        result = classify(settings.data_dir, text or "", top, "zh")
    except ClassifyInputError as exc:
        _fail(f"ai.classify.error.{exc.code}")
        return
    except ModelMissing:
        _fail("ai.classify.error.no_model")
        return

    def render(r: dict[str, Any]) -> None:
        if not r["known"]:
            click.echo(" / ".join(both("ai.classify.unknown")))
        for level in ("subclasses", "groups"):
            click.echo(" / ".join(both(f"ai.classify.{level}")))
            for row in r[level]:
                click.echo(f"  {row['code']:<12} {row['confidence']:6.1%}  {row['title'] or ''}")
    emit(result, "json" if fmt == "json" else "text", render)


commands = [embed_command, semantic_command, classify_command]
