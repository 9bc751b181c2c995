"""One vocabulary for trademark statuses, whatever the office printed.

`normalise_status` maps a printed status to one of `STATUSES`; the importers keep the printed
text next to it (`TrademarkRecord.status_text`). A status not listed here is ``other``: a wrong
bucket would silently skew statistics and the filing watches, an ``other`` only asks for a new line.

Sources of the printed values:
* WIPO ST.66 ``MarkCurrentStatusCode`` (Application filed, Filing date accorded, Classification
  checked, Application published, Opposition pending, Registration published, Application refused,
  Application withdrawn, Registration cancelled, Registration surrendered, … pending) and ST.96
  ``MarkCurrentStatusCode`` (REGISTERED, …);
* the WIPO Global Brand Database statuses (Pending, Registered, Expired, Ended, Unknown) and the
  IPAS office wordings its transformations read (active, examined, abandoned, rejected, …), as
  found in the GBD test fixtures (/trademarks/records/wipo_gbd_test_fixtures);
* CNIPA 商标状态 as printed by 中国商标网 / the trademark gazette (注册, 申请收文, 初审公告, 驳回, …).
"""
from __future__ import annotations

import re
import unicodedata

STATUS_TEXT_MAX = 200  # models.Trademark.status_text

STATUSES = ("filed", "published", "registered", "opposed", "refused", "withdrawn", "expired", "cancelled",
            "invalidated", "other")

_BY_STATUS: dict[str, tuple[str, ...]] = {
    # application received, not yet published (pending examination or examined)
    "filed": (
        "application filed", "filed", "filing date accorded", "classification checked", "pending", "examined",
        "under examination", "application under examination", "awaiting examination", "new application",
        "depositado",  # BR (INPI) in GBD
        "申请收文", "待审中", "申请中", "商标申请中", "已受理", "受理", "等待实质审查", "实质审查中", "审查中",
    ),
    # preliminary approval published, opposition period running
    "published": (
        "application published", "published", "published for opposition",
        "初审公告", "初步审定公告", "初步审定", "已初审", "注册申请初步审定",
    ),
    "registered": (
        "registered", "registration published", "active", "reinstated", "renewed", "registration renewed",
        "注册", "已注册", "商标已注册", "注册商标", "核准注册", "已续展",
    ),
    "opposed": (
        "opposition pending", "application opposed", "opposed", "opposition",
        "异议中", "异议", "商标异议中", "异议审查中",
    ),
    "refused": (
        "application refused", "refused", "rejected", "final refusal", "finalrefusal",
        "驳回", "已驳回", "商标已驳回", "不予注册", "商标不予注册",
    ),
    "withdrawn": (
        "application withdrawn", "withdrawn", "abandoned",
        "撤回", "已撤回", "商标已撤回", "申请撤回",
    ),
    "expired": (
        "expired", "registration expired",
        "期满未续展", "期满", "已过期", "过期", "商标已过期",
    ),
    # ended by the office or the owner: revoked (non-use…), surrendered, removed
    "cancelled": (
        "registration cancelled", "cancelled", "canceled", "registration surrendered", "surrendered", "revoked",
        "registration revoked",
        "注销", "已注销", "商标已注销", "撤销", "已撤销", "商标已撤销", "连续三年不使用撤销",
    ),
    "invalidated": (
        "registration invalidated", "invalidated", "declared invalid",
        "无效", "已无效", "商标无效", "宣告无效", "已宣告无效",
    ),
}

# Deliberately ``other`` (printed text kept): GBD "Ended" and IL "deleted" (refused, withdrawn or
# cancelled: the source does not say which), "Inactive" (expired or ended), "Unknown", pending
# appeals/revocations/invalidity actions (the outcome is open), IPAS numeric codes such as "1058".


def _key(text: str) -> str:
    """Case, width and spacing do not matter: 'Application  Filed', 'APPLICATION_FILED', '已 注册'."""
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", text)).casefold()


_TABLE = {_key(printed): status for status, printed_forms in _BY_STATUS.items() for printed in printed_forms}


def normalise_status(printed: str | None) -> str | None:
    """The vocabulary value of a printed status; None when nothing was printed, ``other`` when unknown."""
    if printed is None or not printed.strip():
        return None
    return _TABLE.get(_key(printed), "other")


def split_status(printed: str | None) -> tuple[str | None, str | None]:
    """(normalised, as printed) for `TrademarkRecord.status` / `status_text`."""
    text = " ".join(printed.split()) if printed else None
    # The mapping reads the whole text; the stored copy is capped to its column (the raw record keeps all).
    return normalise_status(text), text[:STATUS_TEXT_MAX] if text else None
