"""The classifier: TF-IDF over character 1-2-grams (Chinese has no spaces; characters and their
pairs carry the words without a segmenter's errors) feeding
- subclasses: a linear model (scikit-learn SGDClassifier, logistic loss, one-vs-rest), whose
  probabilities are the confidence;
- main groups: cosine to each main group's centroid in the same space, among the groups of the
  five likeliest subclasses; confidence = P(subclass) x the group's share of its subclass's
  similarity. (A linear model over 7,000+ groups from ~8k labelled records plus the IPC titles
  would take longer to train than this platform's budget and have too few examples per group.)

Evaluated on a held-out split (fixed seed) of the real labelled records, against the majority
class: `xjip classify --train` writes the figures beside the model and prints them."""
from __future__ import annotations

import collections
import hashlib
import pickle
import random
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from xjip.search.classify.data import Example, export_records, ipc_titles, labelled_titles, subclass_titles

MODEL_FILE = "ipc_classifier.pkl"
MAX_TEXT = 20_000  # characters read (the rest of a pasted full text adds cost, not signal)
SEED = 20261205
TEST_SHARE = 0.2
TOP = 5
KEEP_WEIGHTS = 0.05


class ModelMissing(RuntimeError):
    pass


class ClassifyInputError(ValueError):
    def __init__(self, code: str):
        self.code = code
        super().__init__(code)


def model_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "classify" / MODEL_FILE


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")[:MAX_TEXT].lower()


# --- training -------------------------------------------------------------------------------

def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                           max_features=200_000, dtype=np.float32, preprocessor=normalise)


def _split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """Held out by text (duplicates — an A and B publication of one application — stay on one side)."""
    keys = sorted({e.key for e in examples})
    random.Random(SEED).shuffle(keys)
    test_keys = set(keys[:int(len(keys) * TEST_SHARE)])
    return [e for e in examples if e.key not in test_keys], [e for e in examples if e.key in test_keys]


class Model:
    def __init__(self) -> None:
        self.vectorizer: Any = None
        self.subclass_model: Any = None
        self.groups: list[str] = []
        self.group_subclass: np.ndarray | None = None
        self.centroids: Any = None
        self.titles: dict[str, dict[str, str | None]] = {}
        self.meta: dict[str, Any] = {}

    def fit(self, examples: list[Example]) -> "Model":
        from scipy import sparse
        from sklearn.linear_model import SGDClassifier
        from sklearn.preprocessing import normalize

        self.vectorizer = _vectorizer()
        X = self.vectorizer.fit_transform([e.text for e in examples])
        rows, labels, weights = [], [], []
        for i, e in enumerate(examples):
            for s in e.subclasses:
                rows.append(i)
                labels.append(s)
                weights.append(1.0 / len(e.subclasses))
        self.subclass_model = SGDClassifier(loss="log_loss", alpha=2e-6, max_iter=10, tol=1e-3, random_state=0,
                                            n_jobs=2)
        self.subclass_model.fit(X[rows], labels, sample_weight=np.asarray(weights))
        group_rows: dict[str, list[int]] = collections.defaultdict(list)
        for i, e in enumerate(examples):
            for g in e.groups:
                group_rows[g].append(i)
        self.groups = sorted(group_rows)
        indptr, indices = [0], []
        for g in self.groups:
            indices.extend(group_rows[g])
            indptr.append(len(indices))
        membership = sparse.csr_matrix((np.ones(len(indices), np.float32), indices, indptr),
                                       shape=(len(self.groups), X.shape[0]))
        self.centroids = normalize(membership @ X).astype(np.float32).tocsr()
        classes = {c: i for i, c in enumerate(self.subclass_model.classes_)}
        self.group_subclass = np.array([classes.get(g[:4], -1) for g in self.groups])
        return self

    def compact(self, keep: float = KEEP_WEIGHTS) -> "Model":
        """Keep each subclass's largest `keep` share of weights (by magnitude) as a sparse matrix:
        the dense 659 x 108k weights are ~285 MB; the kept share agrees with them on the top-1
        subclass of the labelled titles (figure written by `train`)."""
        import numpy as np
        from scipy import sparse

        coef = self.subclass_model.coef_
        if sparse.issparse(coef):
            return self
        coef = np.asarray(coef, dtype=np.float32)
        k = max(1, int(coef.shape[1] * keep))
        cut = -np.partition(-np.abs(coef), k - 1, axis=1)[:, k - 1:k]
        self.subclass_model.coef_ = sparse.csr_matrix(np.where(np.abs(coef) >= cut, coef, 0))
        return self

    def predict(self, texts: list[str], top: int = TOP) -> list[dict[str, list[tuple[str, float]]]]:
        X = self.vectorizer.transform(texts)
        proba = self.subclass_model.predict_proba(X)
        sims = (X @ self.centroids.T).toarray() if self.centroids is not None and len(self.groups) else None
        classes = self.subclass_model.classes_
        out = []
        for row in range(X.shape[0]):
            if X[row].nnz == 0:  # no character the model knows: no guess rather than the prior
                out.append({"subclasses": [], "groups": []})
                continue
            order = np.argsort(-proba[row])[:top]
            subs = [(str(classes[i]), float(proba[row, i])) for i in order]
            groups: list[tuple[str, float]] = []
            if sims is not None:
                for ci in order:
                    mask = self.group_subclass == ci
                    if not mask.any():
                        continue
                    s = np.clip(sims[row] * mask, 0, None)
                    total = s.sum()
                    if total <= 0:
                        continue
                    for gi in np.flatnonzero(s):
                        groups.append((self.groups[gi], float(proba[row, ci] * s[gi] / total)))
                groups.sort(key=lambda x: -x[1])
            out.append({"subclasses": subs, "groups": groups[:top]})
        return out


def _hits(ranked: list[str], gold: list[str], k: int) -> bool:
    return bool(set(ranked[:k]) & set(gold))


def evaluate(model: Model, test: list[Example], majority_sub: list[str], majority_group: list[str]) -> dict[str, Any]:
    """Top-k accuracy. Real exports: the record's main IPC (first code) must be among the k guesses,
    as WIPO's IPCCAT measures it. Labelled titles: the source lists subclasses without marking the
    main one, so a guess counts when it is any of them (stated with the figure)."""
    result: dict[str, Any] = {}
    predictions = model.predict([e.text for e in test]) if test else []
    for source in sorted({e.source for e in test}):
        rows = [(e, p) for e, p in zip(test, predictions) if e.source == source]
        figures: dict[str, Any] = {"n": len(rows), "gold": "main IPC" if rows[0][0].has_main else "any listed subclass"}
        for k in (1, 3, 5):
            def gold_sub(e: Example) -> list[str]:
                return e.subclasses[:1] if e.has_main else e.subclasses
            figures[f"subclass_top{k}"] = round(sum(_hits([s for s, _ in p["subclasses"]], gold_sub(e), k)
                                                    for e, p in rows) / len(rows), 4)
            figures[f"subclass_top{k}_majority"] = round(sum(_hits(majority_sub, gold_sub(e), k)
                                                             for e, _ in rows) / len(rows), 4)
            with_groups = [(e, p) for e, p in rows if e.groups]
            if with_groups:
                figures[f"group_top{k}"] = round(sum(_hits([g for g, _ in p["groups"]], e.groups[:1], k)
                                                     for e, p in with_groups) / len(with_groups), 4)
                figures[f"group_top{k}_majority"] = round(sum(_hits(majority_group, e.groups[:1], k)
                                                              for e, _ in with_groups) / len(with_groups), 4)
                figures["n_groups"] = len(with_groups)
        result[source] = figures
    return result


def _compact_agreement(model: Model, texts: list[str]) -> dict[str, Any]:
    """Prune the weights (Model.compact) and say how often the pruned model's first subclass is
    the full model's (on `texts`: labelled titles the final model was fitted on)."""
    before = [p["subclasses"][0][0] if p["subclasses"] else None for p in model.predict(texts, 1)] if texts else []
    model.compact()
    after = [p["subclasses"][0][0] if p["subclasses"] else None for p in model.predict(texts, 1)] if texts else []
    same = sum(a == b for a, b in zip(before, after))
    return {"kept_share": KEEP_WEIGHTS, "texts": len(texts), "top1_agreement": round(same / len(texts), 4) if texts else None}


def load_examples(shared_dir: Path) -> tuple[list[Example], list[Example]]:
    real = list(labelled_titles(shared_dir)) + list(export_records(shared_dir))
    return real, list(ipc_titles())


def train(data_dir: str | Path, shared_dir: str | Path, evaluate_first: bool = True,
          sample: int | None = None) -> dict[str, Any]:
    """Evaluate on the held-out split, then fit the shipped model on every record and write it.
    `sample` (tests): a fixed-seed subset of that many real records and as many IPC titles."""
    started = time.perf_counter()
    real, titles = load_examples(Path(shared_dir))
    if sample:
        rng = random.Random(SEED)
        real = rng.sample(real, min(sample, len(real)))
        titles = rng.sample(titles, min(sample, len(titles)))
    if not real and not titles:
        raise ModelMissing("no labelled records")
    report: dict[str, Any] = {"records": collections.Counter(e.source for e in real + titles), "seed": SEED,
                              "test_share": TEST_SHARE}
    if evaluate_first and real:
        train_real, test = _split(real)
        held = Model().fit(train_real + titles)
        sub_counts = collections.Counter(e.subclasses[0] for e in train_real)
        group_counts = collections.Counter(e.groups[0] for e in train_real if e.groups)
        report["evaluation"] = evaluate(held, test, [s for s, _ in sub_counts.most_common(TOP)],
                                        [g for g, _ in group_counts.most_common(TOP)])
        report["train_seconds_heldout"] = round(time.perf_counter() - started, 1)
    t0 = time.perf_counter()
    model = Model().fit(real + titles)
    model.titles = subclass_titles()
    report["compaction"] = _compact_agreement(model, [e.text for e in real[:2000]])
    report["train_seconds"] = round(time.perf_counter() - t0, 1)
    report["subclasses"] = len(model.subclass_model.classes_)
    report["main_groups"] = len(model.groups)
    report["records"] = dict(report["records"])
    model.meta = report
    path = model_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    _load.cache_clear()
    report["path"] = str(path)
    report["bytes"] = path.stat().st_size
    return report


# --- use ------------------------------------------------------------------------------------

from functools import lru_cache  # noqa: E402


@lru_cache(maxsize=2)
def _cached(path: str, mtime: float) -> Model:
    # The file is one this platform wrote (`train`) into its own data directory, never one fetched.
    with open(path, "rb") as fh:
        return pickle.load(fh)


class _Loader:
    def __call__(self, data_dir: str | Path) -> Model:
        path = model_path(data_dir)
        if not path.is_file():
            raise ModelMissing(str(path))
        return _cached(str(path), path.stat().st_mtime)

    def cache_clear(self) -> None:
        _cached.cache_clear()


_load = _Loader()


def classify(data_dir: str | Path, text: str, top: int = TOP, lang: str = "zh") -> dict[str, Any]:
    """{"subclasses": [{code, confidence, title}], "groups": [...]} for one pasted text."""
    if not isinstance(text, str) or not text.strip():
        raise ClassifyInputError("empty")
    if len(text) > MAX_TEXT * 10:
        raise ClassifyInputError("too_long")
    model = _load(data_dir)
    top = max(1, min(int(top), 20))
    prediction = model.predict([text], top)[0]

    def title(code: str) -> str | None:
        t = model.titles.get(code) or {}
        return t.get(lang) or t.get("zh")

    return {"subclasses": [{"code": c, "confidence": round(p, 4), "title": title(c)} for c, p in prediction["subclasses"]],
            "groups": [{"code": c, "confidence": round(p, 4), "title": title(c)} for c, p in prediction["groups"]],
            "truncated": len(text) > MAX_TEXT, "known": bool(prediction["subclasses"])}
