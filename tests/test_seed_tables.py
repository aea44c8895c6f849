"""`s2f demo --seed-tables` end to end on a tiny corpus: three models, five judgements, both tables."""

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from s2f_tf.data.info import load_info
from s2f_tf.evaluate import seed_table1, seed_tables

# 16 identities of corpus seed 2: 2 female and 2 male held out (A-E names), 5 female and 7 male trained.
ARGV = [
    "--preset", "tiny", "--identities", "16", "--seed", "2", "--utterances", "3", "--faces", "3",
    "--pretrain-steps", "3", "--train-steps", "3", "--classifier-steps", "5", "--precision", "float32",
]  # fmt: skip


def _table(markdown, title):
    """The rows (lists of cells) of the first Markdown table after the heading `### title...`."""
    lines = markdown.split(f"### {title}", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.slow
def test_seed_tables_end_to_end_and_resume(tmp_path, s2f):
    out = tmp_path / "demo"
    run = s2f("demo", "--seed-tables", "--out", out, *ARGV)
    assert run.status == 0, run.err
    summary = run.summary
    assert summary["precision"] == "float32"

    # The per-gender datasets hold the general dataset's unseen and held-out utterances of that gender.
    general = load_info(out / "data")
    for model, gender in (("female", "f"), ("male", "m")):
        checks = summary["same_voices"][model]
        assert checks["unseen_utterances"] and checks["train_heldout_utterances"], checks
        assert checks["training_identities"]
        gendered = load_info(out / f"data_{model}")
        unseen = seed_tables.split_utterances(general, ["val", "test"], gender)
        assert len(unseen) == 2 * 3  # 2 unseen identities of each gender, 3 utterances each
        assert {i for i, _ in unseen} == set(gendered.names("val") + gendered.names("test"))

    # Table 2: header, five rows per split, numbers in every computed column, the seed's numbers beside
    # the rows it reports.
    markdown = Path(summary["report"]).read_text()
    unseen = _table(markdown, "Unseen identities")
    header, rows = unseen[0], unseen[2:]
    assert header == [
        "model", "judged on", "voices (identities)", "FID", "KID", "FD, face embedding", "L1 (0-255)",
        "cosine", "seed: FID", "seed: L1", "seed: cosine",
    ]  # fmt: skip
    assert [(r[0], r[1]) for r in rows] == [
        ("general", "all voices"), ("general", "female voices"), ("general", "male voices"),
        ("female", "female voices"), ("male", "male voices"),
    ]  # fmt: skip
    for row in rows:
        l1, cosine = float(row[6]), float(row[7])
        assert 0 < l1 < 255 and -1 <= cosine <= 1
        assert float(row[5]) >= 0  # the Fréchet distance in face-embedding space
    seed = {(r[0], r[1]): r[8:] for r in rows}
    assert seed[("general", "all voices")] == ["114.4", "61.9", "0.245"]
    assert seed[("female", "female voices")] == ["126.4", "29.4", "0.399"]
    assert seed[("male", "male voices")] == ["129.3", "33.1", "0.209"]
    assert seed[("general", "female voices")] == ["–", "–", "–"]
    assert "What is comparable" in markdown and "table1.png" in markdown
    assert len(_table(markdown, "Training identities")) == 2 + 5

    # Per gender, both models were judged on the same voices (as many), and only on that gender's.
    counts = {(r[0], r[1]): r[2] for r in rows}
    assert counts[("general", "female voices")] == counts[("female", "female voices")]
    assert counts[("general", "male voices")] == counts[("male", "male voices")]
    for model, gender in (("female", "f"), ("male", "m")):
        metrics = json.loads((out / "seed_tables" / f"{model}_voices" / "metrics.json").read_text())
        for entry in (metrics["model"], *metrics["compare"]):
            for split, kinds in entry["splits"].items():
                assert set(kinds["trained"]["by_gender"]) == {gender}, (model, split)
        assert Path(metrics["compare"][0]["workdir"]).name == "workdir"  # the general model

    # Table 1: one row per unseen identity (at most 4 per gender), true face + two models.
    unseen_ids = [
        min(
            4,
            len(
                load_info(out / f"data_{g}").names("val")
                + load_info(out / f"data_{g}").names("test")
            ),
        )
        for g in ("female", "male")
    ]
    with Image.open(summary["table1"]) as image:
        assert image.size == seed_table1.table1_size(sum(unseen_ids), 3, 64)
    assert set(summary["stages"]) >= {
        "synth general", "prepare general", "prepare female", "prepare male", "train female",
        "train male", "evaluate general", "evaluate female", "evaluate male", "tables",
    }  # fmt: skip
    assert all(isinstance(v, float) for v in summary["stages"].values())

    # A rerun with nothing changed skips the corpus and every evaluation, and writes the same tables.
    again = s2f("demo", "--seed-tables", "--out", out, *ARGV)
    assert again.status == 0, again.err
    assert sorted(again.summary["skipped"]) == [
        "evaluate female",
        "evaluate general",
        "evaluate male",
    ]
    assert "synth general" not in again.summary["stages"]
    assert "skipped, ckpt-" in again.out
    assert Path(again.summary["report"]).read_text() == markdown


@pytest.mark.slow
def test_too_few_identities_of_a_gender_is_one_line(tmp_path, s2f):
    """8 identities of corpus seed 0 hold out no woman: refused after prepare, before any training."""
    argv = [*ARGV]
    argv[argv.index("--identities") + 1], argv[argv.index("--seed") + 1] = "8", "0"
    run = s2f("demo", "--seed-tables", "--out", tmp_path / "demo", *argv)
    assert run.status == 2
    assert run.err.strip().splitlines()[-1] == (
        "s2f demo: error: the female dataset has 4 training and 0 unseen identities; the seed tables"
        " need at least 1 and 2 (--identities 8 is too few: try more, or another --seed)"
    )
    assert not (tmp_path / "demo" / "workdir").exists()


def test_seed_table_rows_follow_the_evaluations():
    """table2 takes each row from the right evaluation: the model itself, or the compared general one."""

    def entry(l1, genders):
        trained = {"samples": 6, "identities": 2, "l1_pixels": {"value": l1}, "by_gender": genders}
        return {"splits": {"unseen": {"trained": trained}}}

    evaluations = {
        "general": {"model": entry(50.0, {"f": {}, "m": {}})},
        "female": {"model": entry(20.0, {"f": {}}), "compare": [entry(30.0, {"f": {}})]},
        "male": {"model": entry(25.0, {"m": {}}), "compare": [entry(35.0, {"m": {}})]},
    }
    rows = seed_tables.table2(evaluations, "unseen")
    assert [(r["model"], r["voices"], r["l1_pixels"]) for r in rows] == [
        ("general", "all", 50.0), ("general", "f", 30.0), ("general", "m", 35.0),
        ("female", "f", 20.0), ("male", "m", 25.0),
    ]  # fmt: skip
    assert rows[0]["fid"] is None
    lines = seed_tables.table2_markdown(rows)
    assert lines[2].split("|")[4].strip() == "–"  # no FID without Inception
    assert re.search(r"\| 50\.0 \|", lines[2])
    # The report: Table 2 per split present in the evaluations, the dataset checks in words.
    checks = {
        "unseen_utterances": True,
        "train_heldout_utterances": True,
        "training_identities": True,
        "val_test_division": False,
    }
    text = seed_tables.render(
        evaluations, {"female": checks}, "table1.png", ["../e/report.md"], {"female": 2, "male": 1}
    )
    assert "### Unseen identities" in text and "### Training identities" not in text
    assert "the same unseen utterances (val + test): yes" in text
    assert "the same val/test division: no" in text
    assert "2 female, 1 male" in text and "![Table 1](table1.png)" in text


def test_table1_figure_places_each_face_in_its_cell():
    import numpy as np

    red, green, blue = (
        np.full((64, 64, 3), c, np.uint8) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))
    )
    rows = [("Alice (f)", [red, green, blue]), ("Bob (m)", [None, blue, green])]
    image = seed_table1.table1_figure(rows, ("true face", "general model", "female / male model"))
    assert image.size == seed_table1.table1_size(2, 3, 64) == (150 + 3 * 132, 30 + 2 * 132)
    cell = lambda r, c: image.getpixel((150 + c * 132 + 64, 30 + r * 132 + 64))  # noqa: E731
    assert [cell(0, c) for c in range(3)] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert [cell(1, c) for c in range(3)] == [(255, 255, 255), (0, 0, 255), (0, 255, 0)]
