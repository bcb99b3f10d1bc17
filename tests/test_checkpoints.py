"""The shipped checkpoints: present, intact, loadable into the current code, reproducible."""

import json
import os
import shutil

import pytest

import train_checkpoints
from cvbook import checkpoints

NAMES = ("scorer", "second_scorer", "cnn", "dcgan", "cgan", "diffusion", "autoencoder",
         "text2image", "backbone", "resnet", "detector")


def test_manifest_records_how_each_checkpoint_was_made_within_the_size_budget():
    entries = checkpoints.manifest()
    assert set(entries) == set(NAMES)
    total = 0
    for name, e in entries.items():
        for key in ("what", "file", "builder", "command", "dataset", "profile", "knobs",
                    "training", "wall_seconds", "hardware", "date", "scores", "fingerprint",
                    "sha256"):
            assert key in e, f"{name}: no {key!r} in the manifest"
        assert e["command"] == "make checkpoints" and e["profile"] == "full"
        total += os.path.getsize(checkpoints.path(name))
    assert total <= 30 * 2 ** 20, f"checkpoints take {total / 2 ** 20:.1f} MB, over 30 MB"
    assert entries["scorer"]["scores"]["test_accuracy"] > 0.9  # a ruler worth using
    # the second ruler, as good a classifier to within about a point
    assert entries["second_scorer"]["scores"]["test_accuracy"] > 0.89
    # the text-to-image chapter's claims rest on these: a sharp enough decoder, and a model
    # that follows class, tone and size on the combinations it was trained on
    assert entries["autoencoder"]["scores"]["test_mse"] < 0.01
    t2i = entries["text2image"]["scores"]
    assert min(t2i["held_in_class"], t2i["held_in_tone"], t2i["held_in_size"]) > 0.9


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_loads_into_the_current_code_and_reproduces_its_fingerprint(name):
    model = checkpoints.load(name)
    got = train_checkpoints.fingerprint(name, model)
    want = checkpoints.record(name)["fingerprint"]
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=train_checkpoints.FINGERPRINT_RTOL), key


@pytest.fixture()
def weights_copy(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    shutil.copytree(checkpoints.WEIGHTS_DIR, folder)
    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", str(folder))
    monkeypatch.setattr(checkpoints, "MANIFEST", str(folder / "manifest.json"))
    return folder


def test_a_missing_or_corrupt_checkpoint_names_the_file_and_the_command(weights_copy):
    os.remove(weights_copy / "dcgan.weights.h5")
    with pytest.raises(checkpoints.CheckpointError, match="dcgan.weights.h5 is missing") as err:
        checkpoints.load("dcgan")
    assert "make checkpoints" in str(err.value)
    with open(weights_copy / "cnn.weights.h5", "ab") as f:
        f.write(b"\0")
    with pytest.raises(checkpoints.CheckpointError, match="does not match the SHA-256") as err:
        checkpoints.load("cnn")
    assert "cnn.weights.h5" in str(err.value) and "make checkpoints" in str(err.value)
    with pytest.raises(checkpoints.CheckpointError, match="No checkpoint named 'gan'"):
        checkpoints.load("gan")
    os.remove(weights_copy / "manifest.json")
    with pytest.raises(checkpoints.CheckpointError, match="make checkpoints"):
        checkpoints.load("cnn")


def test_an_architecture_change_breaks_the_checkpoint_loudly(weights_copy):
    with open(weights_copy / "manifest.json") as f:
        manifest = json.load(f)
    manifest["checkpoints"]["cnn"]["builder_kwargs"]["width"] = 16  # the code "changed"
    with open(weights_copy / "manifest.json", "w") as f:
        json.dump(manifest, f)
    with pytest.raises(checkpoints.CheckpointError, match="does not fit the current"):
        checkpoints.load("cnn")


def test_full_profile_trains_chapter_5s_model_as_the_checkpoint_was_trained():
    from cvbook import profiles

    spec = train_checkpoints.SPECS["diffusion"]
    full, k = profiles.PROFILES["diffusion"]["full"], spec["knobs"]
    assert full["image_size"] == spec["builder_kwargs"]["image_size"]
    assert list(full["widths"]) == spec["builder_kwargs"]["widths"]
    assert (full["T"], full["prediction"]) == (spec["schedule"]["T"], spec["schedule"]["prediction"])
    for key in ("epochs", "batch_size", "learning_rate", "warmup_steps", "final_lr_fraction",
                "weight_decay", "ema", "ema_warmup", "min_snr", "label_dropout"):
        assert full[key] == k[key], key
    assert full["n_train"] is None  # all 60,000 images
