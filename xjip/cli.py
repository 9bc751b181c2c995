"""The root `xjip` command. Each part contributes its subcommands from `<part>/commands.py`
(a module-level `commands: list[click.Command]`); the root only wires settings."""
from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from xjip.settings import Settings, SettingsError

# Command → the part that defines it (each part's `commands` list). A part is imported only when
# one of its commands runs: the parts pull in SQLAlchemy, tantivy, scikit-learn…, and `xjip import`
# should not pay 1.5 s for `xjip classify`. tests/test_cli_parts.py keeps this table true.
COMMANDS = {
    "db": "xjip.hub.commands", "init": "xjip.hub.commands", "import": "xjip.hub.commands",
    "import-formats": "xjip.hub.commands", "jobs": "xjip.hub.commands", "demo": "xjip.hub.commands",
    "entities": "xjip.hub.commands",
    "synth": "xjip.hub.synth_commands",
    "serve": "xjip.web.commands", "stats": "xjip.web.commands", "export": "xjip.web.commands",
    "user": "xjip.web.commands",
    "search": "xjip.search.commands",
    "indicators": "xjip.indicators.commands", "plan": "xjip.indicators.commands",
    "report": "xjip.reports.commands",
    "gi": "xjip.gi.commands",
    "embed": "xjip.search.ai_commands", "semantic": "xjip.search.ai_commands",
    "classify": "xjip.search.ai_commands",
}
PARTS = list(dict.fromkeys(COMMANDS.values()))
# Parts that listen to the hub's after-commit hook, subscribed before any command runs (cheap:
# no model, no index is opened), so a record written from the command line reaches the search
# index, the embedding queue and the indicators' kept figures as one written from the web does.
SUBSCRIBERS = ["xjip.indicators", "xjip.search.semantic", "xjip.search.live:install"]


def subscribe_parts() -> None:
    for target in SUBSCRIBERS:
        module, _, function = target.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._store = None

    @property
    def store(self):  # noqa: ANN201
        if self._store is None:
            from xjip.hub.store import open_store

            self._store = open_store(self.settings)
        return self._store


def emit(data: Any, fmt: str, render_text) -> None:  # noqa: ANN001
    """Every listing command supports --format json; text goes through `render_text`."""
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        render_text(data)


format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="Output format / 输出格式")


class PartsGroup(click.Group):
    """Loads a part's commands when one of them is asked for (see COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            load_part(COMMANDS[name])
        return self.commands.get(name)


@click.group(cls=PartsGroup)
@click.option("--database-url", envvar="XJIP_DATABASE_URL", help="SQLAlchemy URL (default: SQLite in data dir)")
@click.option("--data-dir", envvar="XJIP_DATA_DIR", help="Data directory")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, data_dir: str | None) -> None:
    """xjip — 新疆知识产权公共服务平台 / Xinjiang IP public-service platform."""
    subscribe_parts()
    try:
        ctx.obj = Context(Settings.from_env(database_url=database_url, data_dir=data_dir))
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def load_part(part: str) -> None:
    for command in getattr(importlib.import_module(part), "commands", []):
        main.add_command(command)


if __name__ == "__main__":
    sys.exit(main())
