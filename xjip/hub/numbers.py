"""Patent numbers in one canonical form, for every office an export names.

Canonical forms
- CN application number: ``CN`` + 12 digits (since 2003-10) or 8 digits (before) + ``.`` + check
  digit, e.g. ``CN202223220665.2``, ``CN99123456.X``. The check digit is verified (CNIPA's
  专利申请号标准 ZC 0006-2003: digits weighted 2,3,4,5,6,7,8,9,2,3,4,5 from the left, sum mod 11,
  10 written as X).
- Other offices' application numbers: office code (WIPO ST.3) + the number as the EPO's DOCDB
  writes it, without separators, check digits or kind letters (see `canonical_app`), so that the
  same application met in a national file, a Patentics/incoPat export (EPODOC-style numbers such
  as ``EP20097219778``) and an OPS answer (``<doc-number>``) gets one key: ``US16911133``,
  ``EP09721977``, ``JP2020123456``, ``KR1020200012345``, ``TW109123456``, ``SG11202102606S``,
  ``BR102019012345``; a PCT application is WIPO's ``PCT/CN2017/079453``.
- Publication / grant numbers: office + number + kind code (WIPO ST.16), no spaces or dots,
  e.g. ``CN218751475U``, ``US9648662B2``, ``USD656308S1``, ``EP2400812A1``, ``WO2022146737A1``,
  ``SG11202102606SA``, ``HK19144322M004S``, ``TWI123456B``; DOCDB's dotted ``US.16911133.A``
  is read too.
- IPC symbols: compact ``A01B1/00`` (no spaces, no leading zeros in the group).

Our own code rather than a library: PyPI has no maintained parser of patent numbers (the
DOCDB resolvers found are online services; python-stdnum has no patent numbers). Office
codes are checked against ISO 3166-1 and ISO 3166-3 (pycountry) plus the regional and
international codes of WIPO ST.3; a number naming any other office is refused, naming it.
"""

from __future__ import annotations

import operator
import re
from functools import lru_cache

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


# --- offices ------------------------------------------------------------------------------

# WIPO ST.3 codes that are not ISO 3166 countries: regional offices and international bodies.
REGIONAL_OFFICES = {"AP": "ARIPO", "BX": "Benelux Office for IP", "EA": "Eurasian Patent Organization",
                    "EM": "EUIPO", "EP": "European Patent Office", "GC": "GCC Patent Office",
                    "IB": "WIPO International Bureau", "OA": "OAPI", "QZ": "CPVO", "WO": "WIPO (PCT)",
                    "XN": "Nordic Patent Institute", "XU": "UPOV", "XV": "Visegrad Patent Institute"}


@lru_cache(maxsize=1)
def offices() -> frozenset[str]:
    """Every office code a number may carry: ISO 3166-1 alpha-2, the former countries of ISO
    3166-3 that old documents still name (SU, DD, CS, YU…) and the ST.3 regional codes."""
    import pycountry

    codes = {c.alpha_2 for c in pycountry.countries}
    codes |= {c.alpha_2 for c in pycountry.historic_countries if getattr(c, "alpha_2", None)}
    return frozenset(codes | set(REGIONAL_OFFICES))


def check_office(code: str, field: str | None = None, value: str | None = None) -> str:
    """`code` if it is a known office; RecordError('unknown_office') naming it otherwise."""
    if code not in offices():
        raise RecordError("unknown_office", field, office=code, value=value if value is not None else code)
    return code


# --- application numbers ----------------------------------------------------------------------

_SEPARATORS = re.compile(r"[/,\-.:：]")
_YEAR4 = r"(?:19|20)\d{2}"
_PCT = re.compile(r"PCT/?([A-Z]{2})/?(\d{4}|\d{2})/?(\d{1,6})")
_DOTTED = re.compile(r"([A-Z]{2})\.([0-9A-Z/\-]+)\.([A-Z]\d?)")  # DOCDB 'US.16911133.A'
_JP_ERAS = {"明治": 1867, "大正": 1911, "昭和": 1925, "昭": 1925, "平成": 1988, "平": 1988, "令和": 2018, "令": 2018,
            "M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}
_JP_APP = re.compile(r"(?:JP)?(?:特願|実願|意願|特願平|TOKUGAN)?(明治|大正|昭和|平成|令和|昭|平|令|[MTSHR])?"
                     r"(\d{2,4})-?(\d{1,7})")


def pct_app(value: str) -> str | None:
    """'PCT/CN2017/079453', 'PCTCN17/79453', 'PCT/JP79/00178' → 'PCT/CN2017/079453' (WIPO's form
    since 2004: receiving office, 4-digit year, 6-digit serial); None if not a PCT number."""
    m = _PCT.fullmatch(_compact(value))
    if not m:
        return None
    return _pct(m.group(1), m.group(2), m.group(3))


def _pct(office: str, year: str, serial: str) -> str:
    if len(year) == 2:
        year = ("19" if int(year) >= 78 else "20") + year  # the PCT began in 1978
    return f"PCT/{office}{year}/{int(serial):06d}"


def _digits(text: str, value: str, field: str | None) -> str:
    out = _SEPARATORS.sub("", text)
    if not out or not out.isalnum() or not any(ch.isdigit() for ch in out):
        raise RecordError("bad_number", field, value=value)
    return out


def _app_us(rest: str, value: str, field: str | None, kind: str | None) -> str:
    digits = _digits(rest, value, field)
    if len(digits) == 12 and digits[:2] in ("19", "20"):
        digits = digits[4:]  # DOCDB prefixes the filing year: 201113167395 → 13167395
    if not digits.isdigit():
        raise RecordError("bad_number", field, value=value)
    return digits


def _app_ep(rest: str, value: str, field: str | None, kind: str | None) -> str:
    body = rest.split(".")[0]  # '05255002.7': the check digit goes, as in DOCDB
    digits = _digits(body, value, field)
    if len(digits) == 11 and re.match(_YEAR4, digits):
        # EPODOC-style (Patentics): year, serial, check digit: 2009 721977 8 → 09721977
        return digits[2:4] + digits[4:10]
    if len(digits) == 9 and digits.isdigit():
        return digits[:8]  # check digit written without its dot
    return digits


def _year_serial(rest: str, value: str, field: str | None, serial: int) -> str:
    """Offices whose number is year + serial (JP, AU, MX): EPODOC pads the serial to 7 digits."""
    digits = _digits(re.sub(r"[A-Z]$", "", rest), value, field)
    if len(digits) == 4 + 7 and re.match(_YEAR4, digits) and digits[4] == "0" and serial == 6:
        return digits[:4] + digits[5:]
    return digits


def _app_jp(rest: str, value: str, field: str | None, kind: str | None) -> str:
    m = _JP_APP.fullmatch(rest)
    if m and m.group(1):
        year = _JP_ERAS[m.group(1)] + int(m.group(2))  # 特願平10-123456 → 1998
        return f"{year}{int(m.group(3)):06d}"
    if m and len(m.group(2)) == 4 and "-" in rest:
        return f"{m.group(2)}{int(m.group(3)):06d}"
    return _year_serial(rest, value, field, 6)


def _app_kr(rest: str, value: str, field: str | None, kind: str | None) -> str:
    digits = _digits(rest, value, field)
    if len(digits) == 11 and re.match(_YEAR4, digits):
        # DOCDB/EPODOC leave out KIPO's right code (10 patent, 20 utility model): from the kind
        digits = ("20" if (kind or "")[:1] in ("U", "Y") else "10") + digits
    return digits


def _app_tw(rest: str, value: str, field: str | None, kind: str | None) -> str:
    digits = _digits(rest, value, field)
    if len(digits) == 11 and re.match(_YEAR4, digits):
        return f"{int(digits[:4]) - 1911}{digits[5:]}"  # EPODOC year → ROC year (民国): 2020 → 109
    return digits


def _app_sg(rest: str, value: str, field: str | None, kind: str | None) -> str:
    text = _SEPARATORS.sub("", rest)
    m = re.fullmatch(f"({_YEAR4})(1[01])(\\d+[A-Z]?)", text)
    if m:  # EPODOC-style: the year moved to the front (SG20211102606S → 11202102606S)
        return m.group(2) + m.group(1) + m.group(3)
    return _digits(text, value, field)


def _app_br(rest: str, value: str, field: str | None, kind: str | None) -> str:
    text = re.sub(r"-\d$", "", rest)  # 'BR 10 2019 012345-6': the check digit goes
    digits = _digits(text, value, field)
    if len(digits) == 13 and digits.isdigit():
        digits = digits[:12]
    return digits


def _app_hk(rest: str, value: str, field: str | None, kind: str | None) -> str:
    return _digits(rest.split(".")[0], value, field)


def _app_serial_only(rest: str, value: str, field: str | None, kind: str | None) -> str:
    """CA, IL: the number is a serial alone; EPODOC-style numbers put the year first."""
    digits = _digits(re.sub(r"(?<=\d)[A-Z]$", "", rest), value, field)
    if len(digits) == 11 and re.match(_YEAR4, digits) and digits[4:].isdigit():
        return str(int(digits[4:]))
    return digits.lstrip("0") or digits


def _app_wo(rest: str, value: str, field: str | None, kind: str | None) -> str:
    # Derwent writes a kind letter after it: WO2017CN112861A
    m = re.fullmatch(r"(\d{4})([A-Z]{2})(\d{1,6})[A-Z]?", _SEPARATORS.sub("", rest))
    if m:
        return _pct(m.group(2), m.group(1), m.group(3))
    # incoPat: office, 2-digit year, 6-digit serial (WOUS22070560 → PCT/US2022/070560)
    m = re.fullmatch(r"([A-Z]{2})(\d{2})(\d{6})", _SEPARATORS.sub("", rest))
    if m:
        return _pct(m.group(1), m.group(2), m.group(3))
    raise RecordError("bad_number", field, value=value)


def _app_other(rest: str, value: str, field: str | None, kind: str | None) -> str:
    # Patentics writes a kind letter after some offices' application numbers (IN…A, ES…T, AU…A)
    return _digits(re.sub(r"(?<=\d)[A-Z]$", "", rest), value, field)


_APP_RULES = {"US": _app_us, "EP": _app_ep, "JP": _app_jp, "KR": _app_kr, "TW": _app_tw, "SG": _app_sg,
              "BR": _app_br, "HK": _app_hk, "CA": _app_serial_only, "IL": _app_serial_only,
              "AU": lambda r, v, f, k: _year_serial(r, v, f, 6),
              # MX/a/2020/001629: the letter (a, u) says the kind of application
              "MX": lambda r, v, f, k: _year_serial(re.sub(r"^/?[AU]/", "", r), v, f, 6),
              "WO": _app_wo}


def canonical_app(value: str, country: str | None = None, field: str | None = None, kind: str | None = None,
                  verify: bool = True) -> str:
    """Any office's application number → its canonical form (see the module's docstring).
    `country` is the office when the number does not say it (a bare '2020-123456' from a JP
    column); without either, a number is Chinese. Raises RecordError: 'unknown_office' naming
    an office that is none, 'bad_number', 'check_digit' (CN)."""
    text = _compact(value)
    if text.startswith("PCT"):
        pct = pct_app(text)
        if pct is None:
            raise RecordError("bad_number", field, value=str(value))
        return pct
    dotted = _DOTTED.fullmatch(text)
    if dotted:
        return docdb_app(dotted.group(1), dotted.group(2), dotted.group(3), field)
    if text.startswith(("特願", "実願", "意願")):
        country, text = "JP", text
    elif text[:2].isascii() and text[:2].isalpha() and not text.startswith("ZL"):
        if country and country.upper() == "BR" and text[:2] in ("PI", "MU", "DI"):
            pass  # old Brazilian numbers begin with their kind: PI 0512345-6
        else:
            country, text = text[:2], text[2:]
    country = (country or "CN").upper()
    if country == "CN":
        return canonical_cn_app(text, field, verify)
    check_office(country, field, str(value))
    rule = _APP_RULES.get(country, _app_other)
    number = rule(text.lstrip(":："), str(value), field, kind)
    return number if number.startswith("PCT/") else country + number


def docdb_app(country: str | None, number: str | None, kind: str | None = None,
              field: str | None = None) -> str | None:
    """An application number as DOCDB (EPO OPS ``<document-id document-id-type="docdb">``) gives it:
    office, number, kind. PCT applications have the receiving office as country and kind W
    (US + 2013064552 + W → PCT/US2013/064552); CN numbers get their check digit computed."""
    country = (country or "").strip().upper()
    number = re.sub(r"\s", "", number or "")
    if not country or not number:
        return None
    if (kind or "").upper() == "W":
        # since 2004: 4-digit year + 6-digit serial; before: 2-digit year + 5-digit serial (JP0107711)
        m = (re.fullmatch(r"((?:19|20)\d{2})(\d{6})", number) or re.fullmatch(r"(\d{2})(\d{5})", number)
             or re.fullmatch(r"(\d{4})(\d{1,6})", number))
        if m:
            return _pct(country, m.group(1), m.group(2))
    if country == "CN":
        try:
            return canonical_cn_app(number, verify=False)
        except RecordError:
            return "CN" + number
    return canonical_app(number, country, field, kind=kind, verify=False)


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
_KIND = r"([A-Z]\d?)?"
# Number shapes of offices whose numbers hold letters (kind code last, optional)
_PUB_SHAPES = {
    "US": re.compile(r"(D|RE|PP|P|H|T|X|AI)?0*(\d+)" + _KIND),  # USD656308S1, USRE43210E, USPP18398P2
    "SG": re.compile(r"()(\d{10,11}[A-Z])" + _KIND),  # SG11202102606SA: the serial ends with its check letter
    "HK": re.compile(r"()0*(\d+(?:M\d{3})?)" + _KIND),  # HK19144322M004S: part M004 of a design registration
    "TW": re.compile(r"([IMD])?0*(\d+)" + _KIND),  # TWI123456B (invention), TWM… (utility model), TWD… (design)
    "JP": re.compile(r"([HS])?0*(\d+)" + _KIND),  # DOCDB JPH10123456A: Heisei/Showa year first
    "BR": re.compile(r"(PI|MU|DI|C\d)?(\d+)" + _KIND),  # BRPI0512345A (the zero is part of it)
    # IN5974CHE2015A: serial, the patent office's branch (CHE Chennai, DEL, MUM, KOL; NP national phase), year
    "IN": re.compile(r"()(\d+(?:CHE|DEL|MUM|KOL)(?:NP)?\d{4}|\d+)" + _KIND),
}
_JP_PUB = re.compile(r"(特開|特表|再表|特公|実開|実公)(明治|大正|昭和|平成|令和|昭|平|令)?(\d{2,4})-?(\d{1,7})")
_JP_PUB_KIND = {"特開": "A", "特表": "A", "再表": "A1", "特公": "B", "実開": "U", "実公": "Y"}


def canonical_pub(value: str, default_country: str = "CN", kind: str | None = None,
                  field: str | None = None) -> str:
    """'CN 218751475 U' / 'cn218751475u' / '218751475' + kind 'U' → 'CN218751475U';
    'SG11202102606SA', 'USD831053', 'WO 02/25773 A1', 'US.2012057518.A1', '特開2020-123456'.
    Raises RecordError: 'unknown_office' naming an office that is none, 'bad_number'."""
    text = _compact(value)
    dotted = _DOTTED.fullmatch(text)
    if dotted:
        return docdb_pub(dotted.group(1), dotted.group(2), dotted.group(3), field) or text
    jp = _JP_PUB.fullmatch(text)
    if jp:
        year = int(jp.group(3)) + (_JP_ERAS[jp.group(2)] if jp.group(2) else 0)
        return f"JP{year}{int(jp.group(4)):06d}{kind or _JP_PUB_KIND[jp.group(1)]}"
    text = text.replace(".", "").replace("-", "")
    country = default_country
    own = _PUB_SHAPES.get((default_country or "").upper())
    if text[:2].isascii() and text[:2].isalpha() and not (own is not None and own.fullmatch(text)):
        # letters first name the office, unless they are the series of the office the source
        # names (US RE43210 E, PP18398; BR PI0512345)
        country, text = text[:2], text[2:]
    elif not default_country:  # a bare number from a source that names no office: kept as it is
        m = _PUB.match(text)
        if not m:
            raise RecordError("bad_number", field, value=str(value))
        return f"{m.group(2).replace('/', '').replace(',', '')}{(m.group(3) or kind or '').upper()}"
    country = country.upper()
    check_office(country, field, str(value))
    if country == "WO":
        return _wo_pub(text, kind, str(value), field)
    shape = _PUB_SHAPES.get(country)
    if shape is not None:
        m = shape.fullmatch(text)
        if m:
            prefix = "PP" if m.group(1) == "P" and country == "US" else (m.group(1) or "")
            number, own_kind = m.group(2), m.group(3)
            if country == "US" and not prefix and len(number) == 10 and (own_kind or kind or "").startswith("A"):
                number = f"{number[:4]}0{number[4:]}"  # DOCDB drops a zero of the 7-digit serial
            return f"{country}{prefix}{number}{(own_kind or kind or '').upper()}"
    m = _PUB.match(text)
    if not m:
        raise RecordError("bad_number", field, value=str(value))
    number = m.group(2).replace("/", "").replace(",", "")
    return f"{country}{number}{(m.group(3) or kind or '').upper()}"


def _wo_pub(text: str, kind: str | None, value: str, field: str | None) -> str:
    """WO + 4-digit year + 6-digit serial (WIPO's form since 2004): 'WO 02/25773', 'WO0225773',
    DOCDB '02054790' → WO2002025773, WO2002054790."""
    m = re.fullmatch(r"(\d{4}|\d{2})/?(\d{5,6})" + _KIND, text.replace(",", ""))
    if not m:
        raise RecordError("bad_number", field, value=value)
    year = m.group(1)
    if len(year) == 2:
        year = ("19" if int(year) >= 78 else "20") + year
    return f"WO{year}{int(m.group(2)):06d}{(m.group(3) or kind or '').upper()}"


def docdb_pub(country: str | None, number: str | None, kind: str | None, field: str | None = None) -> str | None:
    """A publication number as DOCDB gives it (office, number, kind) → canonical."""
    country = (country or "").strip().upper()
    number = re.sub(r"\s", "", number or "")
    if not country or not number:
        return None
    return canonical_pub(number, country, (kind or "").strip().upper() or None, field)


def split_pub(pub: str) -> tuple[str, str, str | None]:
    """'CN218751475U' → ('CN', '218751475', 'U'); 'SG11202102606SA' → ('SG', '11202102606S', 'A');
    'USD831053' → ('US', 'D831053', None)."""
    shape = _PUB_SHAPES.get(pub[:2])
    m = shape.fullmatch(pub[2:]) if shape is not None and pub[2:3] != "0" else None
    if m:
        return pub[:2], (m.group(1) or "") + m.group(2), m.group(3)
    m = re.fullmatch(r"([A-Z]{2})(\d+)([A-Z]\d?)?", pub)
    if not m:
        return "", pub, None
    return m.group(1), m.group(2), m.group(3)


# --- publications of one application ------------------------------------------------------------

# WIPO ST.16: kinds whose document is the grant (or registration) of the right; A is an
# application's publication. Offices differ: CN and JP U/Y are granted utility models, KR U is
# an unexamined one; US designs (S), reissues (E), plants (P2/P3) are grants too.
_GRANT_FIRST = {"B", "C", "S", "Y", "E"}


def is_grant(number: str, kind: str | None) -> bool | None:
    """Whether a publication is the grant; None when its kind is unknown."""
    country = number[:2]
    if country == "WO":
        return False
    if not kind:
        if country == "US" and number[2:3].isalpha():  # D…, PP…, RE…, H…: grants by their series
            return True
        return None
    kind = kind.upper()
    first = kind[0]
    if first == "A":
        return False
    if first == "U":
        return country != "KR"
    if first == "T":
        return kind in ("T2", "T3", "T4")  # translations of granted European patents
    if country == "US" and kind in ("P2", "P3", "H1", "H"):
        return True
    return first in _GRANT_FIRST


def is_correction(kind: str | None) -> bool:
    """ST.16 corrections (A8/A9, B8/B9…): a publication of the record, never its first or its grant."""
    return bool(kind) and kind[-1:] in ("8", "9") and len(kind) == 2  # type: ignore[index]


def first_and_grant(pubs: list[tuple[str, str | None, object, bool | None]]
                    ) -> tuple[tuple | None, tuple | None]:  # type: ignore[type-arg]
    """(first publication, grant) among (number, kind, date, is_grant) tuples: the earliest
    application publication (the earliest grant when there is none), and the earliest grant;
    corrections only when there is nothing else. Dates compare as ISO text or dates alike."""
    real = [p for p in pubs if not is_correction(p[1])] or pubs
    grants = [p for p in real if p[3]]
    apps = [p for p in real if not p[3]]

    def order(p: tuple) -> tuple:  # type: ignore[type-arg]
        return (p[2] is None, str(p[2] or ""), p[0])

    first = min(apps or grants, key=order) if (apps or grants) else None
    grant = min(grants, key=order) if grants else None
    return first, grant


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
