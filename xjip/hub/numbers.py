"""Patent numbers in one canonical form.

Canonical forms
- CN application number: ``CN`` + 12 digits (since 2003-10) or 8 digits (before) + ``.`` + check
  digit, e.g. ``CN202223220665.2``, ``CN99123456.X``. The check digit is verified (CNIPA's
  专利申请号标准 ZC 0006-2003: digits weighted 2,3,4,5,6,7,8,9,2,3,4,5 from the left, sum mod 11,
  10 written as X).
- Publication / grant numbers: country + number + kind code, no spaces or dots, e.g.
  ``CN218751475U``, ``US9648662B2``, ``EP2400812A1``.
- IPC symbols: compact ``A01B1/00`` (no spaces, no leading zeros in the group).
"""
from __future__ import annotations

import operator
import re

from xjip.hub.records import RecordError

_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_SPACES = re.compile(r"[\s\u3000]+")
_FULLWIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})

# 5th digit of a 12-digit CN application number (ZC 0006-2003, 申请种类)
CN_TYPE_DIGIT = {"1": "invention", "2": "utility_model", "3": "design", "8": "invention", "9": "utility_model"}
KIND_TYPE = {"A": "invention", "B": "invention", "C": "invention", "U": "utility_model", "Y": "utility_model",
             "S": "design", "D": "design"}


_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?E\+?\d+")


def _compact(value: str) -> str:
    # A leading apostrophe is a spreadsheet's "keep this as text" mark, pasted along.
    return _SPACES.sub("", str(value).translate(_FULLWIDTH)).upper().lstrip("'‘’")


def cn_check_digit(digits: str) -> str:
    """Check digit of an 8- or 12-digit CN application number body."""
    total = sum(map(operator.mul, map(int, digits), _WEIGHTS))  # zip's length: 8 or 12 digits
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def canonical_cn_app(value: str, field: str | None = None, verify: bool = True) -> str:
    """'CN202223220665.2', '202223220665.2', '2022232206652', 'ZL202223220665.2' → 'CN202223220665.2'.
    Raises RecordError('check_digit') on a wrong check digit, 'bad_number' on other forms."""
    text = _compact(value)
    for prefix in ("CN", "ZL"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.lstrip(":：")
    m = re.fullmatch(r"(\d{12}|\d{8})\.?([\dX])?", text)
    if not m:
        # "202310012345.6" saved by Excel as a number: digits are lost, say how to get them back
        raise RecordError("spreadsheet_number" if _SCIENTIFIC.fullmatch(text) else "bad_number", field,
                          value=str(value))
    body, check = m.group(1), m.group(2)
    expected = cn_check_digit(body)
    if check is None:
        # 13 digits without the dot are body + check digit; 12/8 digits alone lack it.
        check = expected
    elif verify and check != expected:
        raise RecordError("check_digit", field, value=str(value), expected=f"{body}.{expected}")
    return f"CN{body}.{check}"


def canonical_foreign_app(value: str, country: str) -> str:
    """Non-CN application numbers: country + digits/letters without separators, the EPO check
    digit dropped as OPS does ('EP 05 255 002.7' → 'EP05255002', '13/797,521' + US → 'US13797521')."""
    text = _compact(value).replace("/", "").replace(",", "").replace("-", "")
    if text[:2].isalpha() and text[:2] == country.upper():
        text = text[2:]
    if country.upper() == "EP" and "." in text:
        text = text.split(".")[0]
    return f"{country.upper()}{text.replace('.', '')}"


def cn_type_from_app(app_number: str | None) -> str | None:
    """Patent type from a canonical CN application number (5th digit of the 12-digit form,
    3rd digit of the old 8-digit form)."""
    if not app_number or not app_number.startswith("CN"):
        return None
    body = app_number[2:].split(".")[0]
    digit = body[4] if len(body) == 12 else body[2] if len(body) == 8 else None
    return CN_TYPE_DIGIT.get(digit or "")


def type_from_kind(kind: str | None) -> str | None:
    return KIND_TYPE.get((kind or "")[:1].upper())


_PUB = re.compile(r"^([A-Z]{2})?0*(\d[\d/,]*\d|\d)([A-Z]\d?)?$")


def canonical_pub(value: str, default_country: str = "CN", kind: str | None = None,
                  field: str | None = None) -> str:
    """'CN 218751475 U' / 'cn218751475u' / '218751475' + kind 'U' → 'CN218751475U'."""
    text = _compact(value).replace(".", "").replace("-", "")
    m = _PUB.match(text)
    if not m:
        raise RecordError("bad_number", field, value=str(value))
    country = m.group(1) or default_country
    number = m.group(2).replace("/", "").replace(",", "")
    return f"{country}{number}{(m.group(3) or kind or '').upper()}"


def split_pub(pub: str) -> tuple[str, str, str | None]:
    """'CN218751475U' → ('CN', '218751475', 'U')."""
    m = re.fullmatch(r"([A-Z]{2})(\d+)([A-Z]\d?)?", pub)
    if not m:
        return "", pub, None
    return m.group(1), m.group(2), m.group(3)


_IPC = re.compile(r"^([A-H])\s*(\d{2})\s*([A-Z])\s*0*(\d{1,4})?\s*(?:/\s*(\d{1,6}))?")


def canonical_ipc(value: str) -> str | None:
    """'B64U 20/80', 'B64U0020800000', 'A01B 1/00 (2006.01)' → 'B64U20/80'; subclass 'A01B' stays."""
    text = str(value).translate(_FULLWIDTH).strip().upper()
    if not text:
        return None
    m14 = re.fullmatch(r"([A-H]\d{2}[A-Z])(\d{4})(\d{6})", text.replace(" ", ""))
    if m14:
        group = str(int(m14.group(2)))
        sub = m14.group(3).rstrip("0")
        return f"{m14.group(1)}{group}/{(sub or '00').ljust(2, '0')}"
    m = _IPC.match(text)
    if not m:
        return None
    head = f"{m.group(1)}{m.group(2)}{m.group(3)}"
    if m.group(4) is None:
        return head
    return f"{head}{int(m.group(4))}/{m.group(5) or '00'}"


def ipc_list(values: list[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = re.split(r"[;；,，|\n]", values)
    out: dict[str, None] = {}
    for v in values:
        code = canonical_ipc(v)
        if code:
            out[code] = None
    return list(out)
