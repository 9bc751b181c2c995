"""IPC auto-classification trained by the real code on real labelled records (a fixed-seed sample,
to keep the test short): the held-out figures beat the majority class, the CLI and the model file
work, and bad input is refused with a message in both languages."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xjip.cli import main
from xjip.search.classify import ClassifyInputError, ModelMissing, classify, model_path, train

LABELLED = "patents/cn_ipc_classification/lxingy3_chinese-patent-ipc-classifier/title_ipc_subclasses.jsonl.gz"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):  # noqa: ANN001, ANN201
    if not (shared_data / LABELLED).is_file():
        pytest.skip("labelled records not present")
    folder = tmp_path_factory.mktemp("classify")
    report = train(folder, shared_data, sample=2500)
    return folder, report


def test_training_reports_held_out_figures(trained) -> None:  # noqa: ANN001
    folder, report = trained
    assert model_path(folder).is_file() and report["bytes"] > 0
    evaluation = report["evaluation"]
    titles = evaluation["lxingy3_titles"]
    assert titles["n"] > 50
    # a model that learned something: above the majority class, and top-5 at least top-1
    assert titles["subclass_top1"] > titles["subclass_top1_majority"]
    assert titles["subclass_top5"] >= titles["subclass_top3"] >= titles["subclass_top1"]
    exports = evaluation.get("real_exports")
    if exports:
        assert exports["group_top5"] >= exports["group_top1"]


def test_classify_gives_five_with_titles(trained) -> None:  # noqa: ANN001
    folder, _ = trained
    result = classify(folder, "一种用于棉花田的膜下滴灌带回收装置，包括机架、卷绕辊和驱动电机")
    assert len(result["subclasses"]) == 5 and result["known"]
    confidences = [r["confidence"] for r in result["subclasses"]]
    assert confidences == sorted(confidences, reverse=True) and 0 < sum(confidences) <= 1.0001
    assert all(r["title"] for r in result["subclasses"])  # Chinese titles from the shipped IPC table
    assert all(g["code"][:4] in {s["code"] for s in result["subclasses"]} for g in result["groups"])


@pytest.mark.parametrize("text,code", [("", "empty"), ("   \n", "empty"), ("专" * 300_000, "too_long")])
def test_bad_input_refused(trained, text, code) -> None:  # noqa: ANN001
    folder, _ = trained
    with pytest.raises(ClassifyInputError) as info:
        classify(folder, text)
    assert info.value.code == code


def test_odd_input_answers(trained) -> None:  # noqa: ANN001
    folder, _ = trained
    assert classify(folder, "😀🚀🎉")["known"] in (True, False)
    long = classify(folder, "一种太阳能光伏板清洁机器人" * 8000)  # 100k characters
    assert long["truncated"] and long["subclasses"]
    assert classify(folder, "ئۇيغۇرچە Қазақша")["subclasses"] is not None


def test_missing_model(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ModelMissing):
        classify(tmp_path, "一种装置")


def test_cli(trained, tmp_path) -> None:  # noqa: ANN001
    folder, _ = trained
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = runner.invoke(main, ["--data-dir", str(folder), "--database-url", db, "classify", "一种锂电池的正极材料及其制备方法",
                                  "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["subclasses"]) == 5
    result = runner.invoke(main, ["--data-dir", str(folder), "--database-url", db, "classify", ""])
    assert result.exit_code == 2 and "请输入" in result.output and "Enter the text" in result.output
    result = runner.invoke(main, ["--data-dir", str(tmp_path / "empty"), "--database-url", db, "classify", "一种装置"])
    assert result.exit_code == 2 and "xjip classify --train" in result.output
