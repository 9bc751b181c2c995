"""Text analysis for the index and for queries, the same code on both sides.

- Folding: NFKC (full-width → half-width), OpenCC t2s (traditional → simplified), lower case.
- Chinese: rjieba, precise mode, with a user dictionary of IP words (`user_words`). Precise-mode
  words go to the positional field (phrases, proximity); the sub-words jieba's search mode would
  add (农业大学 → 农业, 大学) go to a separate bag-of-words field, so that a phrase's positions
  stay those of the precise words and a sub-word still finds its document.
  (tantivy-py's PreTokenizedString could stack sub-words at one position, but phrase queries over
  it find nothing in tantivy 0.27.0's binding: tried, hence two fields.)
- Latin script: tantivy's own `simple` tokenizer + lower case + English Snowball stemmer
  (`en_stem`), run from Python so that index and query tokens are made by one analyser.
- Pinyin (pypinyin, tones dropped), one syllable per token, for names: `kuerle xiangli` and
  `kuerlexiangli` both become the phrase ku er le xiang li (`pinyin_syllables`).
- Synonyms (`SYNONYMS`): a small documented table applied at query time only.
"""
from __future__ import annotations

import csv
import gzip
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Iterable

REFDATA = Path(__file__).resolve().parent.parent / "hub" / "refdata"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[a-z]+")
# a "word" of the text: a run of CJK, or a run of anything that is a letter or digit in any script
_WORDS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\W_]+", re.UNICODE)

# Query-time synonyms: each group's words are searched for one another (OR). Kept short and
# about recall on this platform's records: official vs common names, and the abbreviations
# clerks type. Applied to whole query words only.
SYNONYMS: list[tuple[str, ...]] = [
    ("新疆", "新疆维吾尔自治区"),
    ("兵团", "新疆生产建设兵团"),
    ("乌鲁木齐", "乌市"),
    ("香梨", "库尔勒香梨"),
    ("哈密瓜", "甜瓜"),
    ("大枣", "红枣"),
    ("无人机", "无人驾驶飞行器", "无人飞行器"),
    ("光伏", "太阳能电池"),
    ("风电", "风力发电"),
    ("棉花", "棉"),
    ("手机", "移动终端"),
    ("电动车", "电动汽车"),
]
_SYNONYM_INDEX = {w: group for group in SYNONYMS for w in group}

# Company-name patterns jieba should keep whole, so that 新疆某某农业科技有限公司 does not
# split into 有限 / 公司 / 科技有 noise.
COMPANY_WORDS = ("有限责任公司", "股份有限公司", "有限公司", "集团有限公司", "农民专业合作社", "专业合作社",
                 "合作社", "研究院", "研究所", "科技有限公司", "生物科技", "农业科技", "新能源", "知识产权",
                 "生产建设兵团", "农业大学", "医科大学", "师范大学", "职业技术学院", "地理标志", "专用标志")

_lock = threading.Lock()
_ready = False


def fold(text: str | None) -> str:
    """Width, script and case folding of any text (index and query alike)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    if _CJK.search(text):
        text = _opencc().convert(text)
    return text.lower()


@lru_cache(maxsize=1)
def _opencc():  # noqa: ANN202
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202
    import tantivy

    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stemmer("english")).build())


def _ipc_words() -> Iterable[str]:
    """Short phrases of the IPC Chinese titles (CNIPA 2026 edition): the parts between
    punctuation that are 2–8 characters long, e.g. 手动工具, 播种, 整地."""
    path = REFDATA / "classification" / "ipc_zh_cnipa2026.tsv.gz"
    if not path.exists():
        return
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("level") not in ("class", "subclass", "main_group"):
                continue
            title = re.sub(r"（[^）]*）|\([^)]*\)", "", row.get("title_zh") or "")
            for part in re.split(r"[；;，,、。：:或和及与的]", title):
                part = part.strip()
                if 2 <= len(part) <= 8 and _CJK_RUN.fullmatch(part):
                    yield part


_PLACE_TAILS = ("维吾尔自治区", "哈萨克自治州", "蒙古自治州", "柯尔克孜自治州", "回族自治州", "自治县", "自治州",
                "地区", "街道", "市", "县", "区", "镇", "乡")


def _place_words() -> Iterable[str]:
    """Xinjiang division and township names, whole and without their unit word (库尔勒市 → 库尔勒)."""
    regions = REFDATA / "regions"
    names: list[str] = []
    path = regions / "xinjiang_admin_divisions.csv"
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            names += [r["name_zh"] for r in csv.DictReader(fh)]
    path = regions / "xinjiang_townships.csv.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            names += [r["name_zh"] for r in csv.DictReader(fh)]
    for name in names:
        yield name
        for tail in _PLACE_TAILS:
            if name.endswith(tail) and len(name) - len(tail) >= 2:
                yield name[: -len(tail)]
                break


def user_words(extra: Iterable[str] = ()) -> list[str]:
    """The user dictionary: IPC title phrases, Xinjiang places, company-name patterns, and
    `extra` (the GI names the hub holds, given by the indexer)."""
    words = {*_ipc_words(), *_place_words(), *COMPANY_WORDS, *(fold(w) for w in extra if w)}
    return sorted(w for w in words if 2 <= len(w) <= 20)


def prepare(extra: Iterable[str] = ()) -> None:
    """Load the user dictionary into jieba once per process (and GI names as they come)."""
    global _ready
    import rjieba

    with _lock:
        words = user_words(extra) if not _ready else [fold(w) for w in extra if w and 2 <= len(w) <= 20]
        for word in words:
            if _CJK.search(word) and not rjieba.has_word(word):
                # a frequency that makes jieba keep the word whole (jieba's own suggest_freq idea)
                rjieba.add_word(word, 2000 + 100 * len(word), None)
        _ready = True


def _ensure() -> None:
    if not _ready:
        prepare()


def _sub_words(word: str) -> list[str]:
    """Every 2- and 3-character piece of a longer word (库尔勒香梨 → 库尔, 尔勒, 勒香, 香梨, 库尔勒, …):
    the pieces a person may type alone. Not only dictionary words: 香梨 is not in jieba's
    dictionary, and without its HMM (off, so that index and query segment alike) it would never be
    a token of its own."""
    n = len(word)
    out = [word[i:i + 2] for i in range(n - 1)] if n > 2 else []
    if n > 3:
        out += [word[i:i + 3] for i in range(n - 2)]
    return out


def analyse(text: str | None, *, subwords: bool = True) -> tuple[list[str], list[str]]:
    """(positional tokens, extra sub-word tokens) of a text."""
    _ensure()
    import rjieba

    folded = fold(text)
    tokens: list[str] = []
    extra: list[str] = []
    for m in _WORDS.finditer(folded):
        run = m.group(0)
        if _CJK.match(run):
            for word in rjieba.cut(run, False):
                tokens.append(word)
                if subwords and len(word) > 2:
                    extra += _sub_words(word)
        else:
            tokens += _stemmer().analyze(run) or [run]
    return tokens, extra


def is_cjk(word: str) -> bool:
    return bool(_CJK_RUN.fullmatch(word))


def tokens(text: str | None) -> list[str]:
    return analyse(text, subwords=False)[0]


def synonyms(word: str) -> tuple[str, ...]:
    return _SYNONYM_INDEX.get(fold(word), ())


# --- pinyin --------------------------------------------------------------------------------

def pinyin(text: str | None) -> list[str]:
    """Tone-less pinyin syllables of the Chinese characters of a name."""
    if not text:
        return []
    from pypinyin import Style, lazy_pinyin

    han = "".join(_CJK_RUN.findall(fold(text)))
    return [s for s in lazy_pinyin(han, style=Style.NORMAL, errors="ignore") if s.isascii() and s.isalpha()]


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    from pypinyin import Style, lazy_pinyin

    chars = "".join(chr(c) for c in range(0x4E00, 0x9FA6))
    return frozenset(s for s in lazy_pinyin(chars, style=Style.NORMAL, errors="ignore") if s.isalpha() and s.isascii())


def pinyin_syllables(word: str) -> list[str] | None:
    """'kuerle' → ['ku', 'er', 'le']; None when the word is not a run of pinyin syllables.
    Longest syllable first, with backtracking ('xian' vs 'xi an' both tried)."""
    word = word.lower()
    if not word.isascii() or not word.isalpha() or len(word) > 60:
        return None
    known = _syllables()
    memo: dict[int, list[str] | None] = {}

    def split(i: int) -> list[str] | None:
        if i == len(word):
            return []
        if i in memo:
            return memo[i]
        memo[i] = None
        for j in range(min(len(word), i + 6), i, -1):
            if word[i:j] in known:
                rest = split(j)
                if rest is not None:
                    memo[i] = [word[i:j], *rest]
                    break
        return memo[i]

    return split(0)


@lru_cache(maxsize=50_000)
def _readings(char: str) -> str:
    from pypinyin import Style, pinyin as _pinyin

    found = _pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    names = sorted({s for group in found for s in group if s.isascii() and s.isalpha()})
    return "_".join(names)


def pinyin_tokens(name: str | None) -> list[str]:
    """One token per Chinese character of a name: every reading of it, joined by '_'
    (勒 → le_lei), so that a query's syllable finds the character whichever reading the
    person had in mind (`query` matches each syllable with a regular expression)."""
    if not name:
        return []
    return [r for r in (_readings(ch) for ch in "".join(_CJK_RUN.findall(fold(name)))) if r]
