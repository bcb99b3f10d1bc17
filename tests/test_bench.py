"""The benchmark table and the Results page generated from it."""

import json
import os

import bench
import pytest


@pytest.fixture()
def fake_results(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "RESULTS", str(tmp_path))
    row = dict(notebook="chapters/02_cnn_training.ipynb", profile="full", device="GPU: Test X1",
               seconds=95.0, metrics={"test_accuracy": 0.9312}, date="2026-11-25")
    with open(tmp_path / "full.json", "w") as f:
        json.dump({"profile": "full", "rows": {row["notebook"]: row}}, f)
    return tmp_path


def test_page_shows_measured_rows_with_their_device_and_marks_the_rest(fake_results):
    page = bench.render()
    assert "| 02_cnn_training | GPU: Test X1 | 95 s | test_accuracy 0.931 | 2026-11-25 |" in page
    assert "| 04_gans | - | - | not measured" in page
    assert "Fashion-MNIST CNN" in page and "95 s, test_accuracy 0.931 on GPU: Test X1: met" in page
    # every chapter gets a row in both profiles, measured or not
    for rel in bench.nbtools.notebooks(("chapters",)):
        name = os.path.splitext(os.path.basename(rel))[0]
        assert page.count(f"| {name} |") == 2


def test_committed_results_page_is_up_to_date():
    with open(bench.PAGE) as f:
        assert f.read() == bench.render(), "run `python benchmarks/bench.py page`"


def test_device_is_described():
    assert bench.device().startswith(("CPU:", "GPU:"))


def test_a_run_with_changed_knobs_says_so(fake_results):
    table = bench.load("full")
    row = table["rows"]["chapters/02_cnn_training.ipynb"]
    row.update(overrides={"epochs": 3}, metrics={"test_accuracy": 0.9})
    with open(fake_results / "full.json", "w") as f:
        json.dump(table, f)
    page = bench.render()
    assert 'run with COURSE_OVERRIDES {"epochs": 3}: test_accuracy 0.9' in page
    assert "test_accuracy 0.9 on GPU: Test X1: missed" in page  # below the 0.92 target


def test_a_failed_run_is_shown_as_failed(fake_results):
    table = bench.load("full")
    table["rows"]["chapters/02_cnn_training.ipynb"]["failed"] = "AssertionError: expected 0.92"
    with open(fake_results / "full.json", "w") as f:
        json.dump(table, f)
    page = bench.render()
    assert "FAILED (AssertionError: expected 0.92); recorded before it: test_accuracy 0.931" in page
    assert "test_accuracy 0.931 on GPU: Test X1: missed" in page  # a failed run meets no target


def test_machine_calibration_refuses_too_few_steps(capsys):
    import machine

    with pytest.raises(SystemExit):
        machine.main(["--steps", "5"])
    assert "--steps must be at least 10, got 5" in capsys.readouterr().err



def test_a_row_older_than_a_checkpoint_its_notebook_loads_says_so():
    entries = bench._manifest()
    stale = bench._older_checkpoints("chapters/06_applications.ipynb", "2000-01-01", entries)
    assert any("`diffusion`" in s for s in stale) and any("`cgan`" in s for s in stale)
    assert bench._older_checkpoints("chapters/06_applications.ipynb", "9999-12-31", entries) == []
    assert bench._older_checkpoints("chapters/01_cnn_building_blocks.ipynb", "2000-01-01",
                                    entries) == []


def test_a_row_older_than_a_change_of_its_profile_says_so():
    rel = "chapters/05_diffusion.ipynb"
    date, what = bench.PROFILE_CHANGES["full", rel]
    assert bench._older_settings("full", rel, {"date": "2026-11-25"})
    assert not bench._older_settings("full", rel, {"date": date})
    assert not bench._older_settings("smoke", rel, {"date": "2026-11-25"})
    row = bench.load("full")["rows"].get(rel)
    if row is not None and row["date"] < date:  # the page says what the old row ran
        assert what in bench.render()


def test_chapter_5s_sentence_about_the_recipe_ablation_matches_the_measured_table():
    """Chapter 5 cannot read the benchmark table (it runs alone in Colab), so its sentence
    about the ablation is checked here against benchmarks/results/diffusion_recipe.json."""
    import nbformat

    with open(os.path.join(bench.RESULTS, "diffusion_recipe.json")) as f:
        table = json.load(f)
    rows = {r["variant"]: r for r in table["rows"]}
    plain, full = rows.pop("plain DDPM recipe (chapter 5)"), rows.pop("checkpoint recipe")
    measures = ("reference_frechet", "reference_kid", "second_frechet", "second_kid")
    assert len(rows) == 4 and all(name.startswith("- ") for name in rows)
    # "less than half the plain recipe's Fréchet distance and KID on both scorers"
    assert all(full[m] < 0.5 * plain[m] for m in measures)
    # "taking back any one of the four parts made both measures worse on both scorers"
    assert all(r[m] > full[m] for r in rows.values() for m in measures)
    chapter = nbformat.read(os.path.join(bench.ROOT, "chapters", "05_diffusion.ipynb"), 4)
    text = " ".join(" ".join(c.source.split()) for c in chapter.cells)
    assert f"for {table['steps']} steps" in text
    assert "less than half the plain recipe's Fréchet distance and KID on both scorers" in text
    assert "made both measures worse on both scorers" in text
