"""The expert query language: what parses, and where a bad query says it is wrong (both languages)."""
from __future__ import annotations

import pytest

from xjip.search import text
from xjip.search.query import QueryError, compile_query, number_terms, parse


@pytest.mark.parametrize("query", [
    "库尔勒香梨 种植", "TI=香梨 AND PA=(新疆 OR 兵团)", "IPC=A01B*", "IPC=A01B1/00", "AD=2019..2021", "AD>=2020-06",
    '"香梨 种植"~3', "香梨 W/3 种植", "a NEAR/2 b", "NOT 苹果", "香梨 NOT 苹果", "(a OR b) AND c", "名称=香梨 申请日=2020",
    "AN=202223220665.2", "PN=CN218751475U", "IPC=*", "kuerle xiangli", "😀 ئۈرۈمچى Алматы", "NEAR", "DROP TABLE patent; --",
    "TYPE=gi", "A01B*",
])
def test_queries_that_parse(query: str) -> None:
    q, _terms = compile_query(query, lambda name: ["652800"])
    assert q is not None


@pytest.mark.parametrize("query, code, column", [
    ("", "empty", 1),
    ("   ", "empty", 1),
    ("a AND", "unexpected", 6),
    ("(a OR b", "unexpected", 8),
    ("a) b", "unexpected", 2),
    ('"abc', "unclosed_quote", 1),
    ('TI="abc', "unclosed_quote", 4),
    ("foo:bar", "unknown_field", 1),
    ("香梨 XX=1", "unknown_field", 4),
    ("AD=2021..2019", "date_order", 1),
    ("AD=20xx", "bad_date", 1),
    ("AD=2021-13-01", "bad_date", 1),
    ("IPC=Z99", "bad_ipc", 1),
    ("TI>香梨", "bad_operator", 1),
    ("*", "nothing_to_search", 1),
    ("x" * 1001, "too_long", 1001),
    ("a\x00b", "bad_character", 2),
    ("TI=(a AND b) W/3 c", "near_terms", 1),
])
def test_bad_queries_say_where_and_what(query: str, code: str, column: int) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query, lambda name: [])
    err = info.value
    assert (err.code, err.column) == (code, column)
    assert str(column) in err.message_zh and str(column) in err.message_en
    assert err.message_zh != err.message_en and "search.error" not in err.message_en


def test_a_syntax_error_names_what_was_expected() -> None:
    with pytest.raises(QueryError) as info:
        parse("TI=(香梨 OR")
    assert "word" in info.value.message_en and "词" not in info.value.message_en


def test_unknown_region_is_an_error() -> None:
    with pytest.raises(QueryError) as info:
        compile_query("REGION=火星", lambda name: [])
    assert info.value.code == "unknown_region"


def test_folding_and_segmentation() -> None:
    # traditional → simplified, full-width → half-width, case, English stemming
    assert text.tokens("庫爾勒香梨") == text.tokens("库尔勒香梨")
    assert text.tokens("ＡＢＣ１２３") == ["abc123"]
    assert text.tokens("Running machines") == ["run", "machin"]
    # the user dictionary keeps IP words and Xinjiang places whole
    assert "库尔勒市" in text.tokens("库尔勒市农业")
    assert "库尔勒" in text.analyse("库尔勒市农业")[1]  # its sub-word, searchable too
    text.prepare(["库尔勒香梨"])  # a GI name: the user dictionary keeps it whole …
    assert text.analyse("库尔勒香梨") == (["库尔勒香梨"], ["库尔", "尔勒", "勒香", "香梨", "库尔勒", "尔勒香", "勒香梨"])
    # … and 香梨, not in jieba's dictionary, is still a piece one may type
    assert "有限责任公司" in text.tokens("新疆某某有限责任公司")


def test_pinyin() -> None:
    assert text.pinyin_syllables("kuerle") == ["ku", "er", "le"]
    assert text.pinyin_syllables("xiangli") in (["xiang", "li"], ["xi", "ang", "li"])
    assert text.pinyin_syllables("qwrty") is None
    # 勒 is le or lei: both readings are indexed
    assert "le_lei" in text.pinyin_tokens("库尔勒")


def test_number_forms_match_either_way() -> None:
    from xjip.search.documents import number_forms

    stored = set(number_forms("CN202223220665.2", "CN218751475U"))
    for typed in ("CN202223220665.2", "202223220665.2", "2022232206652", "ZL202223220665.2", "CN218751475U",
                  "218751475", "cn 218751475 u"):
        assert stored & set(number_terms(typed)), typed
