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
