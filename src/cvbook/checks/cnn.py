"""Checks for the CNN lab."""

from __future__ import annotations

import numpy as np

from . import activation_name as _act
from . import expect, guarded, layers_of, passed, require

INPUT_SHAPE = (32, 32, 3)
# the spec of exercise 1: (filters, strides, padding) of each Conv2D (all 3x3, ReLU)
_CONV_SPEC = [(32, 1, "same"), (32, 2, "same"), (64, 1, "valid"), (64, 2, "same")]


def _reference_strided_cnn():
    """The answer to exercise 1: four 3x3 convolutions, strides instead of pooling, global
    average pooling, a softmax over 10 classes."""
    import keras
    from keras import layers

    return keras.Sequential(
        [keras.Input(shape=INPUT_SHAPE)]
        + [layers.Conv2D(f, 3, strides=s, padding=p, activation="relu") for f, s, p in _CONV_SPEC]
        + [layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax")],
        name="strided_cnn")


def _side(n: int, k: int, s: int, padding: str) -> int:
    """Side length after a k x k convolution with stride s on an n x n input."""
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def _sides() -> list[int]:
    sides, n = [], INPUT_SHAPE[0]
    for _, s, p in _CONV_SPEC:
        n = _side(n, 3, s, p)
        sides.append(n)
    return sides


@guarded
def check_strided_cnn(model) -> None:
    """The learner's model must match the spec of exercise 1 layer by layer."""
    import keras

    require(model, "model")
    expect(isinstance(model, keras.Model), "`model` should be a keras.Model "
           "(for example keras.Sequential([...])).")
    expect(tuple(model.input_shape[1:]) == INPUT_SHAPE,
           f"The input shape is {tuple(model.input_shape[1:])}; the spec says 32x32 colour "
           f"images: keras.Input(shape=(32, 32, 3)).")
    got = layers_of(model)
    kinds = [type(l).__name__ for l in got]
    if "MaxPooling2D" in kinds:
        expect(False, "The spec has no pooling between the convolutions: layers 2 and 4 "
               "downsample by themselves with strides=2.")
    if "Flatten" in kinds:
        expect(False, "The spec ends with GlobalAveragePooling2D, not Flatten: it averages each "
               "feature map to one number, so the Dense layer sees 64 values whatever the "
               "image size.")
    want = ["Conv2D"] * 4 + ["GlobalAveragePooling2D", "Dense"]
    expect(kinds == want, f"Your layers are {kinds}; the spec has {want}.")
    for i, (layer, (filters, strides, padding)) in enumerate(zip(got, _CONV_SPEC), start=1):
        expect(layer.filters == filters,
               f"Conv2D {i} has {layer.filters} filters; the spec asks for {filters}.")
        expect(tuple(layer.kernel_size) == (3, 3),
               f"Conv2D {i} has kernel_size {tuple(layer.kernel_size)}; all four are 3x3.")
        expect(tuple(layer.strides) == (strides, strides),
               f"Conv2D {i} uses strides {tuple(layer.strides)}; the spec says strides={strides}"
               + (": this layer halves the map instead of a pooling layer." if strides == 2
                  else "."))
        expect(layer.padding == padding,
               f"Conv2D {i} uses padding='{layer.padding}'; the spec says '{padding}'.")
        expect(_act(layer) == "relu", f"Conv2D {i} has activation '{_act(layer)}'; use 'relu'. "
               f"Without it, stacked convolutions collapse into one linear map.")
    head = got[-1]
    expect(head.units == 10 and _act(head) == "softmax",
           f"The last layer is Dense({head.units}, activation='{_act(head)}'); ten classes, one "
           f"answer each: Dense(10, activation='softmax').")
    passed(f"the strided CNN matches the spec ({model.count_params():,} parameters)")


@guarded
def check_feature_sizes(sizes) -> None:
    """The side length after each of the four convolutions, worked out by hand."""
    require(sizes, "sizes")
    expect(isinstance(sizes, (list, tuple)) and len(sizes) == 4,
           f"`sizes` should be a list of 4 numbers, one per Conv2D, such as [32, 16, 14, 7]; "
           f"got {sizes!r}.")
    n = INPUT_SHAPE[0]
    for i, ((_, s, padding), got) in enumerate(zip(_CONV_SPEC, sizes), start=1):
        want = _side(n, 3, s, padding)
        if got != want:
            if padding == "same" and got == _side(n, 3, s, "valid"):
                hint = (f"{got} is the 'valid' formula; with padding='same' only the stride "
                        f"shrinks the map: ceil({n} / {s}) = {want}.")
            elif padding == "valid" and got == n:
                hint = f"'valid' padding loses the border: ({n} - 3) // {s} + 1 = {want}."
            elif padding == "valid" and got == (n - 3) // s:
                hint = f"you forgot the + 1: ({n} - 3) // {s} + 1 = {want}."
            elif s == 2 and got == _side(n, 3, 1, padding):
                hint = "the stride was left out: this layer moves 2 pixels at a time."
            else:
                hint = ("'valid': (n - k) // s + 1; 'same': ceil(n / s), where n is the size "
                        "coming out of the previous layer.")
            expect(False, f"sizes[{i - 1}] (after Conv2D {i}, input {n}x{n}) is {got}; "
                   f"expected {want}: {hint}")
        n = want
    passed(f"feature map sizes by hand: {INPUT_SHAPE[0]} -> " + " -> ".join(map(str, _sides())))


@guarded
def check_param_count(count, model=None) -> None:
    """The hand-computed parameter count of the exercise 1 model must be exact."""
    require(count, "param_count")
    want = _reference_strided_cnn().count_params()
    count = int(count)
    conv_biases = sum(f for f, _, _ in _CONV_SPEC)
    flatten_dense = (_sides()[-1] ** 2 * _CONV_SPEC[-1][0] + 1) * 10
    gap_dense = (_CONV_SPEC[-1][0] + 1) * 10
    if count == want - conv_biases - 10:
        expect(False, f"param_count = {count:,}: the biases are missing. Every filter and "
               f"every Dense unit has one.")
    if count == want - gap_dense + flatten_dense:
        expect(False, f"param_count = {count:,}: that counts a Flatten. GlobalAveragePooling2D "
               f"hands the Dense layer one number per feature map: 64 inputs.")
    channels_in = [INPUT_SHAPE[-1]] + [f for f, _, _ in _CONV_SPEC[:-1]]
    if count == want - sum((3 * 3 * c + 1) * f for c, (f, _, _) in zip(channels_in, _CONV_SPEC))\
            + sum((3 * 3 * 3 + 1) * f for f, _, _ in _CONV_SPEC):
        expect(False, f"param_count = {count:,}: a kernel spans *all* the channels coming in "
               f"(3 for the image, then the previous layer's filters), not always 3.")
    expect(count == want,
           f"param_count = {count:,}, but the model has {want:,}. Count each layer: a Conv2D "
           f"has (k * k * channels_in + 1) * filters, whatever its strides and padding; "
           f"pooling has none; a Dense has (inputs + 1) * units.")
    passed(f"parameter count by hand: {want:,}")


_HEAD_TASKS = {
    "clothing_tags": ("sigmoid", 6, "binary_crossentropy"),
    "weather_onehot": ("softmax", 4, "categorical_crossentropy"),
    "temperature": ("linear", 1, "mse"),
}


@guarded
def check_heads(heads: dict) -> None:
    """Each task gets (activation, units, loss) of the matching output head."""
    require(heads, "heads")
    expect(isinstance(heads, dict), f"`heads` should be a dict of task -> (activation, units, "
           f"loss), got {type(heads).__name__}.")
    for task in _HEAD_TASKS:
        expect(task in heads, f"`heads` has no entry for {task!r}.")
        answer = require(heads[task], f"heads[{task!r}]")
        expect(isinstance(answer, (tuple, list)) and len(answer) == 3,
               f"heads[{task!r}] should be a tuple (activation, units, loss), such as "
               f"('relu', 5, 'mae'); got {answer!r}.")
        g_act, g_units, g_loss = answer
        g_act = "linear" if g_act is None else g_act
        g_loss = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}.get(g_loss, g_loss)
        if task == "clothing_tags":
            expect(g_act == "sigmoid", f"{task}: several tags can apply at once, so each tag "
                   f"gets its own yes/no probability: 'sigmoid', not '{g_act}'"
                   + (" (softmax makes the six tags compete for a total of 1)."
                      if g_act == "softmax" else "."))
            expect(g_units == 6, f"{task}: one output unit per tag -> 6 units.")
            expect(g_loss == "binary_crossentropy", f"{task}: six independent yes/no answers "
                   f"-> 'binary_crossentropy', not '{g_loss}'.")
        elif task == "weather_onehot":
            expect(g_act == "softmax", f"{task}: exactly one of four -> 'softmax', not "
                   f"'{g_act}': the four probabilities must compete and sum to 1.")
            expect(g_units == 4, f"{task}: one output unit per weather type -> 4 units.")
            expect(g_loss == "categorical_crossentropy",
                   f"{task}: the labels are one-hot vectors such as [0, 0, 1, 0] -> "
                   f"'categorical_crossentropy', not '{g_loss}'"
                   + (" ('sparse_...' expects integer labels such as 2)."
                      if g_loss == "sparse_categorical_crossentropy" else "."))
        else:
            expect(g_act == "linear", f"{task}: a temperature can be any number, negative "
                   f"included -> a 'linear' output, not '{g_act}'"
                   + (" (relu can never output -5 °C)." if g_act == "relu" else "."))
            expect(g_units == 1, f"{task}: one number out -> 1 unit.")
            expect(g_loss in ("mse", "mae", "huber"),
                   f"{task}: regression uses a distance loss such as 'mse', not '{g_loss}'.")
    passed("sigmoid per tag, softmax with one-hot labels, linear for any number")


@guarded
def check_accuracy(model, x_test, y_test, target: float) -> float:
    """The trained model must reach ``target`` accuracy on the test set."""
    require(model, "model")
    probs = np.asarray(model.predict(x_test, verbose=0))
    expect(probs.ndim == 2 and probs.shape[1] >= 2,
           f"The model outputs shape {probs.shape}; a classifier should output one "
           f"probability per class.")
    acc = float(np.mean(probs.argmax(axis=1) == np.asarray(y_test)))
    expect(acc >= target, f"Test accuracy {acc:.3f} is below the target {target:.2f}. Train "
           f"longer, check that the images go in as float32 in [0, 1], or add a Conv2D layer.")
    passed(f"test accuracy {acc:.3f} >= {target:.2f}")
    return acc
