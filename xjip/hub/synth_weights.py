"""Where and when the synthetic patents fall, taken from the real statistics the package ships
(`refdata/stats`, `refdata/regions`; sources in `refdata/README.md`), so that the demo data look
like Xinjiang's without being Xinjiang's:

- prefectures: the XPCC cities together get the XPCC row's share of Xinjiang's utility models in
  force (CNIPA statistical yearbook 2022, table 3-3: 7,083 of 56,694); Urumqi its share of the
  region's patent applications (44.5 %, 2017-H1, `prefecture_patent_shares.csv`); the other 13
  prefectures share the rest in proportion to their 2020 census population. No complete table of
  patents by prefecture is public (see shared/data/stats/README.md, "Gaps").
- patent types: inventions and utility models in the proportion of Xinjiang's 2024 grants
  (2,091 : 17,141; designs are not generated);
- filing years: in proportion to Xinjiang's reported grants of the same year, linearly
  interpolated for the years no figure was found (2016–2018, 2022–2023).
- publication numbers: `cn_publication_numbers.csv` lists, per publication day seen in real CN
  exports, the first and last number published that day, rounded outwards to the thousand (A:
  invention applications, U: utility models; scripts/derive_publication_numbers.py). A synthetic record's number is interpolated
  at its publication date, so it lies where real numbers of that type and date lie.
"""
from __future__ import annotations

import bisect
import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from xjip.hub.reference import PACKAGE_DIR

STATS = PACKAGE_DIR / "stats"
URUMQI, XPCC = "650100", "659000"
# The publication weekdays seen in the real exports (cn_publication_numbers.csv; checked by
# tests/hub/test_synth_weights.py): Wednesdays up to 2017-05-31, Tuesdays and Fridays from 2017-06-06.
WEEKDAYS_SWITCH = dt.date(2017, 6, 1)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _stat(rows: list[dict[str, str]], indicator: str, period: str, scope_prefix: str = "XJ") -> float:
    for row in rows:
        if (row["indicator_id"], row["period"]) == (indicator, period) and row["scope"].startswith(scope_prefix) \
                and row["value_type"] == "reported":
            return float(row["value"])
    raise LookupError(f"{indicator} {period} {scope_prefix} not in xinjiang_ip_stats.csv")


@dataclass(frozen=True)
class Weights:
    prefectures: dict[str, float]  # prefecture code (659000: the XPCC cities) → share, summing to 1
    invention_share: float  # of inventions among inventions + utility models
    years: dict[int, float]  # filing year → share, summing to 1


@lru_cache(maxsize=1)
def weights(years: tuple[int, ...] = tuple(range(2015, 2024))) -> Weights:
    stats = _csv(STATS / "xinjiang_ip_stats.csv")
    xpcc = _stat(stats, "valid_utility_models", "2022", "XPCC") / _stat(stats, "valid_utility_models", "2022", "XJ")
    urumqi = next(float(r["value"]) / 100 for r in _csv(STATS / "prefecture_patent_shares.csv")
                  if r["region_code"] == URUMQI and r["indicator"] == "share_of_region_patent_applications")
    population = {r["region_code"]: float(r["value"]) for r in _csv(PACKAGE_DIR / "regions" / "xinjiang_population.csv")
                  if r["indicator"] == "census2020_resident_population" and r["unit"] == "persons"
                  and r["region_code"] != "650000" and r["region_code"][4:] == "00"}
    others = {code: n for code, n in population.items() if code not in (URUMQI, XPCC)}
    rest = 1.0 - xpcc - urumqi
    shares = {URUMQI: urumqi, XPCC: xpcc, **{c: rest * n / sum(others.values()) for c, n in others.items()}}

    invention = _stat(stats, "patent_grants_invention", "2024")
    invention_share = invention / (invention + _stat(stats, "patent_grants_utility", "2024"))

    reported = {int(r["period"]): float(r["value"]) for r in stats
                if r["indicator_id"] == "patent_grants_total" and r["period"].isdigit()
                and r["scope"].startswith("XJ") and r["value_type"] == "reported"}
    known = sorted(reported)
    per_year = {}
    for year in years:
        if year in reported:
            per_year[year] = reported[year]
            continue
        at = bisect.bisect(known, year)
        if at == 0 or at == len(known):  # outside the reported years: the nearest one
            per_year[year] = reported[known[min(at, len(known) - 1)]]
            continue
        lo, hi = known[at - 1], known[at]
        per_year[year] = reported[lo] + (reported[hi] - reported[lo]) * (year - lo) / (hi - lo)
    total = sum(per_year.values())
    return Weights(shares, invention_share, {y: v / total for y, v in per_year.items()})


class PublicationNumbers:
    """Real CN publication numbers by date: `at(kind, day)` → the number real publications of
    that kind reached on `day` (interpolated between the days seen; extrapolated past the last
    one at the rate of its final year), and the width of that day's block."""

    def __init__(self, path: Path = STATS / "cn_publication_numbers.csv"):
        anchors: dict[str, list[tuple[int, int]]] = {}
        for row in _csv(path):
            day = dt.date.fromisoformat(row["date"]).toordinal()
            points = anchors.setdefault(row["kind"], [])
            # a number published out of order (a late correction) would bend the line: skip it
            if not points or int(row["first_number"]) > points[-1][1]:
                points.append((day, int(row["first_number"])))
        self.anchors = anchors

    def at(self, kind: str, day: dt.date) -> float:
        points = self.anchors[kind]
        x = day.toordinal()
        at = bisect.bisect(points, (x, float("inf")))
        if 0 < at < len(points):
            (x0, y0), (x1, y1) = points[at - 1], points[at]
        elif at == 0:  # before the first day seen: the slope over the first year
            x0, y0 = points[0]
            x1, y1 = next((p for p in points if p[0] >= x0 + 365), points[-1])
        else:  # after the last day seen: the slope over the last year
            x1, y1 = points[-1]
            x0, y0 = next((p for p in reversed(points) if p[0] <= x1 - 365), points[0])
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def block(self, kind: str, day: dt.date, days: int) -> tuple[int, int]:
        """[first, first + width): the numbers between `day` and the next publication day."""
        first = int(self.at(kind, day))
        return first, max(1, int(self.at(kind, day + dt.timedelta(days=days))) - first)


def publication_day(day: dt.date) -> tuple[dt.date, int]:
    """The first CN publication day on or after `day`, and the days to the following one."""
    if day < WEEKDAYS_SWITCH:
        pub = day + dt.timedelta(days=(2 - day.weekday()) % 7)  # Wednesday
        return pub, 7
    shift = min((wd - day.weekday()) % 7 for wd in (1, 4))  # Tuesday, Friday
    pub = day + dt.timedelta(days=shift)
    return pub, 3 if pub.weekday() == 1 else 4


@lru_cache(maxsize=1)
def publication_numbers() -> PublicationNumbers:
    return PublicationNumbers()
