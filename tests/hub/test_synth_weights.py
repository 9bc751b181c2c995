"""The synthetic demo data look like Xinjiang's: prefectures, patent types and filing years in the
proportions of the real statistics the package ships, and publication numbers of the real form
lying where real CN numbers of the same type and publication day lie."""
from __future__ import annotations

import csv
import datetime as dt
import math
import runpy
from collections import Counter
from pathlib import Path

import pytest

from xjip.hub import synth, synth_weights
from xjip.hub.reference import PACKAGE_DIR

ROOT = Path(__file__).resolve().parents[2]
N = 4000


def _stats() -> list[dict[str, str]]:
    with open(PACKAGE_DIR / "stats" / "xinjiang_ip_stats.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _value(indicator: str, period: str, scope: str) -> float:
    return next(float(r["value"]) for r in _stats() if (r["indicator_id"], r["period"]) == (indicator, period)
                and r["scope"].startswith(scope))


@pytest.fixture(scope="module")
def patents(tmp_path_factory: pytest.TempPathFactory) -> list[synth.SynthPatent]:
    # an empty shared folder: the package's own tables only, as on a fresh clone
    return list(synth.iter_patents(N, seed=3, shared=tmp_path_factory.mktemp("no_shared")))


def test_shares_are_the_real_statistics() -> None:
    w = synth_weights.weights()
    assert math.isclose(sum(w.prefectures.values()), 1.0)
    # CNIPA yearbook 2022 table 3-3: XPCC row over the Xinjiang row (utility models in force)
    assert w.prefectures["659000"] == pytest.approx(7083 / 56694)
    assert w.prefectures["650100"] == pytest.approx(0.445)  # Urumqi, 2017-H1 applications
    # the other prefectures by 2020 census population: Kashgar 4,496,377, Hotan 2,504,718
    assert w.prefectures["653100"] / w.prefectures["653200"] == pytest.approx(4_496_377 / 2_504_718)
    assert len(w.prefectures) == 15  # 14 prefectures + the XPCC cities together
    invention, utility = _value("patent_grants_invention", "2024", "XJ"), _value("patent_grants_utility", "2024", "XJ")
    assert (invention, utility) == (2091, 17141)
    assert w.invention_share == pytest.approx(invention / (invention + utility))
    grants = {y: _value("patent_grants_total", str(y), "XJ") for y in (2015, 2019, 2020, 2021, 2024)}
    assert w.years[2021] / w.years[2020] == pytest.approx(grants[2021] / grants[2020])
    # 2022 and 2023 have no reported figure: on the line from 2021 to 2024
    assert w.years[2022] / w.years[2021] == pytest.approx((grants[2021] + (grants[2024] - grants[2021]) / 3) / grants[2021])


def _close(observed: int, share: float, n: int) -> bool:
    return abs(observed / n - share) <= 4 * math.sqrt(share * (1 - share) / n) + 0.002


def test_records_follow_the_shares(patents: list[synth.SynthPatent]) -> None:
    w = synth_weights.weights()
    places = Counter(p.applicants[0].place.prefecture_code for p in patents)
    assert set(places) == set(w.prefectures)
    assert all(_close(places[code], share, N) for code, share in w.prefectures.items()), places
    types = Counter(p.patent_type for p in patents)
    assert _close(types["invention"], w.invention_share, N), types
    years = Counter(p.app_date.year for p in patents)
    assert all(_close(years[y], share, N) for y, share in w.years.items()), years


def test_publication_days_and_numbers_are_where_real_ones_are(patents: list[synth.SynthPatent]) -> None:
    real = synth_weights.publication_numbers()
    checked = 0
    for p in patents:
        kind = p.pub_number[-1]
        day = p.pub_date
        assert day.weekday() in ((2,) if day < synth_weights.WEEKDAYS_SWITCH else (1, 4)), day
        number = int(p.pub_number[2:-1])
        points = real.anchors[kind]
        before = [n for d, n in points if d <= day.toordinal()]
        after = [n for d, n in points if d > day.toordinal()]
        if before and after:  # inside the days seen in real exports: between its neighbours
            assert before[-1] <= number < after[0], (p.pub_number, day)
            checked += 1
    assert checked > N / 2


def test_the_weekdays_are_those_of_the_real_publications() -> None:
    with open(PACKAGE_DIR / "stats" / "cn_publication_numbers.csv", encoding="utf-8", newline="") as fh:
        days = [dt.date.fromisoformat(r["date"]) for r in csv.DictReader(fh)]
    assert {d.weekday() for d in days if d < synth_weights.WEEKDAYS_SWITCH} == {2}  # Wednesdays
    assert {d.weekday() for d in days if d >= synth_weights.WEEKDAYS_SWITCH} == {1, 4}  # Tuesdays, Fridays


def test_the_number_table_is_derived_from_the_real_exports(shared_data: Path, tmp_path: Path) -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "derive_publication_numbers.py"))
    script["main"](shared_data, tmp_path / "again.csv")
    shipped = (PACKAGE_DIR / "stats" / "cn_publication_numbers.csv").read_text(encoding="utf-8")
    assert (tmp_path / "again.csv").read_text(encoding="utf-8") == shipped


def test_a_day_block_is_never_overrun() -> None:
    numbers = synth._Numbers(0)
    day, gap = synth_weights.publication_day(dt.date(2021, 3, 2))
    first, width = synth_weights.publication_numbers().block("A", day, gap)
    drawn = {numbers.pub("A", day, gap) for _ in range(width)}
    assert len(drawn) == width and all(first <= int(n) < first + width for n in drawn)
    with pytest.raises(ValueError, match="exhausted"):
        numbers.pub("A", day, gap)
