"""The reference tables shipped as package data: each listed with its origin in the README, each
still the same as the file of the same name in shared/data, and each in a built wheel."""
from __future__ import annotations

import gzip
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from xjip.hub.reference import PACKAGE_DIR

ROOT = Path(__file__).resolve().parents[2]
DERIVED = {"stats/cn_publication_numbers.csv", "stats/prefecture_patent_shares.csv",  # not copies of shared/data
           "regions/region_names_en.csv"}


def _files() -> list[str]:
    return sorted(str(p.relative_to(PACKAGE_DIR)) for p in PACKAGE_DIR.rglob("*") if p.is_file()
                  and p.name != "README.md")


def test_every_file_is_listed_with_its_origin() -> None:
    readme = (PACKAGE_DIR / "README.md").read_text(encoding="utf-8")
    assert [f for f in _files() if f"`{f}`" not in readme] == []


def test_copies_match_shared_data(shared_data: Path) -> None:
    for rel in _files():
        if rel in DERIVED:
            continue
        shipped = PACKAGE_DIR / rel
        original = shared_data / rel
        if not original.is_file():  # shipped gzipped, kept plain in shared/data
            original = shared_data / rel.removesuffix(".gz")
            assert original.is_file(), rel
            assert gzip.decompress(shipped.read_bytes()) == original.read_bytes(), rel
        else:
            assert shipped.read_bytes() == original.read_bytes(), rel


def test_laws_and_record_samples_are_not_shipped() -> None:
    assert {p.split("/")[0] for p in _files()} == {"regions", "classification", "stats"}


@pytest.mark.slow
def test_a_built_wheel_holds_the_tables(tmp_path: Path) -> None:
    # the build backend pyproject asks for (scripts/_env.sh installs it from the lock)
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    import tomllib

    wanted = Requirement(tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"][0])
    try:
        have = version(wanted.name)
    except PackageNotFoundError:
        have = None
    if have is None or have not in wanted.specifier:
        pytest.skip(f"{wanted} not installed here ({have}); scripts/test installs it from the lock")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("xjip-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [f for f in _files() if f"xjip/hub/refdata/{f}" not in names] == []
