"""Docs are tested: every setting and every CLI command is in docs/reference.md; the web
README lists every route (tests/web checks that one)."""
from pathlib import Path

import click

from xjip.cli import main
from xjip.settings import REGISTRY

REFERENCE = (Path(__file__).resolve().parent.parent / "docs" / "reference.md").read_text(encoding="utf-8")


def _commands(cmd: click.Command, prefix: str) -> list[str]:
    if isinstance(cmd, click.Group):
        return [c for name, sub in sorted(cmd.commands.items()) for c in _commands(sub, f"{prefix} {name}")]
    return [prefix]


def test_every_setting_is_documented():
    missing = [s.name for s in REGISTRY if f"`XJIP_{s.name.upper()}`" not in REFERENCE]
    assert missing == []


def test_every_cli_command_is_documented():
    missing = [c for c in _commands(main, "xjip") if f"`{c}" not in REFERENCE]
    assert missing == []


def test_every_importer_is_documented():
    from xjip.hub.importers.base import load_importers

    ours = {n: imp for n, imp in load_importers().items() if type(imp).__module__.startswith("xjip.")}
    missing = [n for n in ours if f"`{n}`" not in REFERENCE and not n.startswith("tpl_")]
    assert missing == []
