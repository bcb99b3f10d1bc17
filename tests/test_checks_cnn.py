"""The CNN lab's checks accept the right answers and reject the classic mistakes with a hint."""


import keras
import numpy as np
import pytest
from keras import layers

from cvbook.checks import cnn as checks


def strided_cnn(strides=(1, 2, 1, 2), padding=("same", "same", "valid", "same"), act="relu",
                pool_head="gap", head="softmax", input_shape=(32, 32, 3), extra_pool=False):
    convs = []
    for f, s, p in zip((32, 32, 64, 64), strides, padding):
        convs.append(layers.Conv2D(f, 3, strides=s, padding=p, activation=act))
        if extra_pool and s == 2:
            convs.append(layers.MaxPooling2D(2))
    reduce = layers.GlobalAveragePooling2D() if pool_head == "gap" else layers.Flatten()
    return keras.Sequential([keras.Input(shape=input_shape), *convs, reduce,
                             layers.Dense(10, activation=head)])


def test_strided_cnn_accepts_the_spec(capsys):
    checks.check_strided_cnn(strided_cnn())
    assert "66,218" in capsys.readouterr().out


@pytest.mark.parametrize("make, hint", [
    (lambda: None, "still a TODO"),
    (lambda: "a model", "should be a keras.Model"),
    (lambda: strided_cnn(strides=(1, 1, 1, 1)), "halves the map"),
    (lambda: strided_cnn(padding=("same",) * 4), "the spec says 'valid'"),
    (lambda: strided_cnn(padding=("valid",) * 4), "the spec says 'same'"),
    (lambda: strided_cnn(act=None), "collapse into one linear map"),
    (lambda: strided_cnn(pool_head="flatten"), "GlobalAveragePooling2D, not Flatten"),
    (lambda: strided_cnn(extra_pool=True), "no pooling between the convolutions"),
    (lambda: strided_cnn(head="sigmoid"), "Dense(10, activation='softmax')"),
    (lambda: strided_cnn(input_shape=(28, 28, 1)), "keras.Input(shape=(32, 32, 3))"),
])
def test_strided_cnn_rejects_mistakes_with_a_hint(make, hint, rejects):
    rejects(lambda: checks.check_strided_cnn(make()), hint)


def test_feature_sizes_check(capsys, rejects):
    checks.check_feature_sizes([32, 16, 14, 7])
    assert "32 -> 32 -> 16 -> 14 -> 7" in capsys.readouterr().out
    rejects(lambda: checks.check_feature_sizes([32, 15, 13, 6]), "is the 'valid' formula")
    rejects(lambda: checks.check_feature_sizes([32, 16, 16, 8]), "'valid' padding loses the border")
    rejects(lambda: checks.check_feature_sizes([32, 16, 13, 7]), "you forgot the + 1")
    rejects(lambda: checks.check_feature_sizes([32, 32, 30, 30]), "the stride was left out")
    rejects(lambda: checks.check_feature_sizes([32, 16, 14]), "a list of 4 numbers")
    rejects(lambda: checks.check_feature_sizes(None), "still a TODO")


def test_param_count_check(rejects):
    checks.check_param_count(66_218)
    rejects(lambda: checks.check_param_count(66_218 - 32 - 32 - 64 - 64 - 10), "biases")
    rejects(lambda: checks.check_param_count(66_218 - 650 + (7 * 7 * 64 + 1) * 10), "Flatten")
    rejects(lambda: checks.check_param_count(28 * (32 + 32 + 64 + 64) + 650), "all* the channels")
    rejects(lambda: checks.check_param_count(12_345), "(k * k * channels_in + 1) * filters")
    rejects(lambda: checks.check_param_count(None), "TODO")


RIGHT = dict(checks._HEAD_TASKS)


@pytest.mark.parametrize("task, answer, hint", [
    ("clothing_tags", ("softmax", 6, "categorical_crossentropy"), "compete for a total of 1"),
    ("clothing_tags", ("sigmoid", 1, "binary_crossentropy"), "one output unit per tag"),
    ("clothing_tags", ("sigmoid", 6, "categorical_crossentropy"), "independent yes/no"),
    ("weather_onehot", ("softmax", 4, "sparse_categorical_crossentropy"), "expects integer labels"),
    ("weather_onehot", ("sigmoid", 4, "categorical_crossentropy"), "must compete"),
    ("temperature", ("relu", 1, "mse"), "relu can never output -5"),
    ("temperature", ("linear", 1, "binary_crossentropy"), "distance loss"),
    ("temperature", None, "still a TODO"),
    ("temperature", ("linear", 1), "a tuple (activation, units, loss)"),
])
def test_heads_check_rejects_wrong_pairings(task, answer, hint, rejects):
    checks.check_heads(RIGHT)
    checks.check_heads({**RIGHT, "temperature": (None, 1, "mean_absolute_error")})
    rejects(lambda: checks.check_heads({**RIGHT, task: answer}), hint)


def test_accuracy_check_rejects_an_untrained_model(rejects):
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 8, 8, 1), dtype="float32"), rng.integers(0, 10, 50)
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])
    rejects(lambda: checks.check_accuracy(model, x, y, target=0.9), "below the target")
