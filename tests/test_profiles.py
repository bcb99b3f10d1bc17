import json

import pytest

from cvbook import profiles


def test_every_notebook_has_both_profiles_with_the_same_knobs():
    for name, by_profile in profiles.PROFILES.items():
        assert set(by_profile) == set(profiles.PROFILE_NAMES), name
        assert set(by_profile["smoke"]) == set(by_profile["full"]), name


def test_resolution_order(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert profiles.resolve("smoke") == "smoke"  # the papermill parameter wins
    assert profiles.resolve(None) == "full"  # then the environment variable
    monkeypatch.delenv("COURSE_PROFILE")
    assert profiles.resolve(None) == "smoke"  # no GPU on the test machines
    with pytest.raises(ValueError, match="Unknown profile"):
        profiles.resolve("fast")


def test_config_overrides_and_unknown_knobs():
    cfg = profiles.config("cnn-training", "smoke", epochs=7, dataset=None)
    assert cfg.epochs == 7 and cfg.profile == "smoke"
    assert cfg.dataset == profiles.PROFILES["cnn-training"]["smoke"]["dataset"]  # None: keep it
    with pytest.raises(KeyError):
        profiles.config("cnn-training", "smoke", epoch=3)
    with pytest.raises(KeyError):
        profiles.config("no-such-notebook", "smoke")


def test_record_writes_json_only_when_asked(monkeypatch, tmp_path, capsys):
    cfg = profiles.config("cnn-training", "smoke")
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    cfg.record(test_accuracy=0.5)
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    import numpy as np

    cfg.record(test_accuracy=np.float32(0.9712))
    cfg.record(fid=12.5)
    saved = json.loads((tmp_path / "cnn-training.json").read_text())
    assert saved["profile"] == "smoke" and saved["fid"] == 12.5
    assert abs(saved["test_accuracy"] - 0.9712) < 1e-6
    assert "test_accuracy=0.9712" in capsys.readouterr().out


def test_overrides_quick_preset_and_bad_json(monkeypatch):
    monkeypatch.setenv(profiles.OVERRIDES_ENV_VAR, "quick")
    cfg = profiles.config("gans", "smoke")
    assert cfg.dcgan_epochs == 1 and cfg.check_results is False
    cfg.check(False, "switched off under quick")  # does not raise
    monkeypatch.setenv(profiles.OVERRIDES_ENV_VAR, '{"epochs": 2')
    with pytest.raises(ValueError, match="COURSE_OVERRIDES is not valid JSON"):
        profiles.config("gans", "smoke")
    monkeypatch.setenv(profiles.OVERRIDES_ENV_VAR, "[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        profiles.config("gans", "smoke")
    monkeypatch.delenv(profiles.OVERRIDES_ENV_VAR)
    with pytest.raises(AssertionError, match="holds"):
        profiles.config("gans", "smoke").check(False, "holds")
