"""The augmentation lab's checks accept the spec and reject out-of-spec or label-changing answers."""

import re

import keras
import numpy as np
import pytest
from keras import layers

from cvbook.checks import LabCheckError
from cvbook.checks import augmentation as checks

IMAGES = np.random.default_rng(0).random((4, 32, 32, 3), dtype="float32")


def pipeline(flip="horizontal", rotation=0.1, zoom=0.2, brightness=0.2, value_range=(0, 1),
             extra=()):
    return keras.Sequential([layers.RandomFlip(flip), layers.RandomRotation(rotation),
                             layers.RandomZoom(zoom),
                             layers.RandomBrightness(brightness, value_range=value_range),
                             *extra])


def test_pipeline_to_spec_passes():
    checks.check_pipeline(pipeline(), IMAGES)


@pytest.mark.parametrize("augment, hint", [
    (None, "still a TODO"),
    (pipeline(flip="horizontal_and_vertical"), "left-right only"),
    (pipeline(rotation=0.25), "at most 0.1"),
    (pipeline(rotation=(-0.05, 0.3)), "fraction of 2π, not degrees"),
    (pipeline(zoom=0.5), "at most 0.2"),
    (pipeline(value_range=(0, 255)), "value_range=(0, 1)"),
    (pipeline(extra=[layers.RandomCrop(16, 16)]), "RandomCrop"),
])
def test_pipeline_rejects_out_of_spec(augment, hint):
    with pytest.raises(LabCheckError, match=re.escape(hint)):
        checks.check_pipeline(augment, IMAGES)


def right_detector(layer, images):
    off = np.allclose(np.asarray(layer(images, training=False)), images)
    on = not np.allclose(np.asarray(layer(images, training=True)), images)
    return off and on


@pytest.mark.parametrize("wrong", [
    lambda layer, images: np.allclose(np.asarray(layer(images, training=False)), images),
    lambda layer, images: not np.allclose(np.asarray(layer(images, training=True)), images),
    lambda layer, images: True,
])
def test_inactive_detector_check(wrong):
    checks.check_inactive_detector(right_detector, pipeline(), IMAGES)
    with pytest.raises(LabCheckError, match="expected"):
        checks.check_inactive_detector(wrong, pipeline(), IMAGES)


@pytest.mark.parametrize("dataset, add, hint", [
    ("digits", "horizontal_flip", "mirrored"),
    ("digits", "rotate_180", "a 6 turned half a turn is a 9"),
    ("pets", "vertical_flip", "upside down"),
    ("pets", "teleport", "unknown option"),
])
def test_safe_choices_reject_label_changing(dataset, add, hint):
    right = {k: set(v) for k, v in checks._SAFE.items()}
    checks.check_safe_choices(right)
    with pytest.raises(LabCheckError, match=hint):
        checks.check_safe_choices({**right, dataset: right[dataset] | {add}})


def test_safe_choices_want_the_useful_ones_too():
    right = {k: set(v) for k, v in checks._SAFE.items()}
    with pytest.raises(LabCheckError, match="no 'up'"):
        checks.check_safe_choices({**right, "satellite": right["pets"]})
    with pytest.raises(LabCheckError, match="left out"):
        checks.check_safe_choices({**right, "digits": {"zoom"}})


# --- Exercise 4: a pipeline for the new camera ----------------------------------------------

def _clothes(n_train=256, n_test=128):
    from cvbook import data

    return data.load("fashion_mnist", image_size=28, channels=1, n_train=n_train,
                     n_test=n_test)


def test_new_camera_is_deterministic_tilted_and_noisy():
    from cvbook import data

    clothes = _clothes(n_train=16, n_test=16)
    new = data.new_camera(clothes.x_test, seed=1)
    assert new.shape == clothes.x_test.shape and new.dtype == np.float32
    assert 0 <= new.min() and new.max() <= 1
    assert np.array_equal(new, data.new_camera(clothes.x_test, seed=1))
    assert not np.array_equal(new, data.new_camera(clothes.x_test, seed=2))
    # the noise: the empty corners of a Fashion-MNIST image are 0 in the original
    corners = new[:, :3, :3].mean()
    assert 0.05 < corners < 0.2, corners


@pytest.mark.parametrize("augment, hint", [
    (None, "still a TODO"),
    (keras.Sequential([layers.RandomCrop(20, 20)]), "no RandomCrop or Resizing"),
    (keras.Sequential([layers.Identity()]), "leaves the training images as they are"),
    (keras.Sequential([layers.Rescaling(0.5)]), "changes the images at inference too"),
])
def test_camera_pipeline_rejects_the_wrong_kind_of_pipeline(augment, hint):
    clothes = _clothes(n_train=16, n_test=16)
    with pytest.raises(LabCheckError, match=re.escape(hint)):
        checks.check_camera_pipeline(augment, clothes, clothes.x_test, epochs=1, margin=0.0,
                                     max_drop=1.0)


def test_camera_pipeline_trains_both_models_and_holds_the_margin_and_the_drop(capsys):
    from cvbook import data

    clothes = _clothes()
    new = data.new_camera(clothes.x_test, seed=1)

    def augment():  # a fresh layer each time: a layer's random state advances as it is used
        keras.utils.set_random_seed(0)
        return keras.Sequential([layers.GaussianNoise(0.2)])

    scores = checks.check_camera_pipeline(augment(), clothes, new, epochs=1, margin=-1.0,
                                          max_drop=1.0)
    assert set(scores) == {"old_none", "new_none", "old_yours", "new_yours"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    printed = capsys.readouterr().out
    assert "no augmentation" in printed and "your pipeline" in printed and "\u2713" in printed
    gain = scores["new_yours"] - scores["new_none"]
    with pytest.raises(LabCheckError, match="points over no augmentation"):
        checks.check_camera_pipeline(augment(), clothes, new, epochs=1, margin=gain + 0.01,
                                     max_drop=1.0)
    drop = scores["old_none"] - scores["old_yours"]
    with pytest.raises(LabCheckError, match="on the old camera's images"):
        checks.check_camera_pipeline(augment(), clothes, new, epochs=1, margin=-1.0,
                                     max_drop=drop - 0.01)


def test_camera_baseline_is_trained_once_and_the_cache_changes_nothing(capsys):
    from cvbook import data

    clothes = _clothes()
    new = data.new_camera(clothes.x_test, seed=1)

    def run():
        keras.utils.set_random_seed(0)
        return checks.check_camera_pipeline(keras.Sequential([layers.GaussianNoise(0.2)]),
                                            clothes, new, epochs=1, margin=-1.0, max_drop=1.0)

    checks._BASELINES.clear()
    first = run()
    assert "trained earlier" not in capsys.readouterr().out
    second = run()
    assert "(1 epochs, trained earlier)" in capsys.readouterr().out
    checks._BASELINES.clear()
    assert first == second == run(), "seeded: the cached baseline is the one a retrain gives"
