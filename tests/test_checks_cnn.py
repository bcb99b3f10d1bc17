"""The CNN lab's checks accept the right answers and reject the classic mistakes with a hint."""

import re

import keras
import numpy as np
import pytest
from keras import layers

from cvbook.checks import LabCheckError
from cvbook.checks import cnn as checks


def seed_cnn(padding="valid", act1="relu", head="softmax", units=128, input_shape=(64, 64, 3)):
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, 3, padding=padding, activation=act1),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding=padding, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(units, activation="relu"),
        layers.Dense(10, activation=head),
    ])


def test_seed_cnn_accepts_the_spec(capsys):
    checks.check_seed_cnn(seed_cnn())
    assert "1,626,442" in capsys.readouterr().out


@pytest.mark.parametrize("model, hint", [
    (None, "still a TODO"),
    (seed_cnn(padding="same"), "padding='same'"),
    (seed_cnn(act1=None), "Without ReLU"),
    (seed_cnn(head="sigmoid"), "softmax"),
    (seed_cnn(units=64), "asks for 128"),
    (seed_cnn(input_shape=(28, 28, 1)), "keras.Input(shape=(64, 64, 3))"),
])
def test_seed_cnn_rejects_mistakes_with_a_hint(model, hint):
    with pytest.raises(LabCheckError, match=re.escape(hint)):
        checks.check_seed_cnn(model)


def test_seed_cnn_rejects_a_missing_layer():
    model = keras.Sequential([keras.Input((64, 64, 3)), layers.Conv2D(32, 3, activation="relu"),
                              layers.Flatten(), layers.Dense(10, activation="softmax")])
    with pytest.raises(LabCheckError, match="layers"):
        checks.check_seed_cnn(model)


def test_conv_output_size_check():
    checks.check_conv_output_size(checks._conv_output_size)
    with pytest.raises(LabCheckError, match="same"):  # ignores padding
        checks.check_conv_output_size(lambda n, k, s=1, padding="valid": (n - k) // s + 1)
    with pytest.raises(LabCheckError, match="valid"):  # forgets the + 1
        checks.check_conv_output_size(lambda n, k, s=1, padding="valid": (n - k) // s)
    with pytest.raises(LabCheckError, match="returned None"):
        checks.check_conv_output_size(lambda n, k, s=1, padding="valid": None)


def test_param_count_check():
    checks.check_param_count(1_626_442)
    with pytest.raises(LabCheckError, match="14 \\* 14 \\* 64"):
        checks.check_param_count(1_626_442 - 32 - 64)  # forgot the conv biases
    with pytest.raises(LabCheckError, match="TODO"):
        checks.check_param_count(None)


RIGHT = dict(checks._HEAD_TASKS)


@pytest.mark.parametrize("task, answer, hint", [
    ("cat_or_dog", ("softmax", 1, "binary_crossentropy"), "sigmoid"),
    ("digit_class", ("sigmoid", 10, "sparse_categorical_crossentropy"), "softmax"),
    ("digit_class", ("softmax", 10, "mse"), "cross-entropy"),
    ("house_price", ("relu", 1, "mse"), "linear"),
    ("house_price", ("linear", 1, "binary_crossentropy"), "mse"),
])
def test_heads_check_rejects_wrong_pairings(task, answer, hint):
    checks.check_heads(RIGHT)
    with pytest.raises(LabCheckError, match=hint):
        checks.check_heads({**RIGHT, task: answer})


def test_accuracy_check_rejects_an_untrained_model():
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 8, 8, 1), dtype="float32"), rng.integers(0, 10, 50)
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])
    with pytest.raises(LabCheckError, match="below the target"):
        checks.check_accuracy(model, x, y, target=0.9)
