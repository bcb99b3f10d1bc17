"""Checks for the CNN lab."""

from __future__ import annotations

import numpy as np

from . import activation_name as _act
from . import expect, layers_of, passed, require

SEED_INPUT_SHAPE = (64, 64, 3)


def _reference_seed_cnn(input_shape=SEED_INPUT_SHAPE, num_classes: int = 10):
    """The course's reference CNN: Conv(32) > Pool > Conv(64) > Pool > Flatten > Dense(128) > softmax."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ], name="seed_cnn")


def check_seed_cnn(model) -> None:
    """The learner's model must match the reference CNN layer by layer."""
    import keras

    require(model, "model")
    expect(isinstance(model, keras.Model), "`model` should be a keras.Model "
           "(for example keras.Sequential([...])).")
    ref = _reference_seed_cnn()
    expect(tuple(model.input_shape[1:]) == SEED_INPUT_SHAPE,
           f"The input shape is {tuple(model.input_shape[1:])}; the spec says 64x64 colour "
           f"images: keras.Input(shape=(64, 64, 3)).")
    got, want = layers_of(model), layers_of(ref)
    expect(len(got) == len(want),
           f"Your model has {len(got)} layers; the spec has {len(want)}: Conv2D, MaxPooling2D, "
           f"Conv2D, MaxPooling2D, Flatten, Dense, Dense.")
    for i, (g, w) in enumerate(zip(got, want), start=1):
        kind = type(w).__name__
        expect(type(g).__name__ == kind,
               f"Layer {i} is a {type(g).__name__}; the spec has a {kind} there.")
        if kind == "Conv2D":
            expect(g.filters == w.filters,
                   f"Layer {i} (Conv2D) has {g.filters} filters; the spec asks for {w.filters}.")
            expect(tuple(g.kernel_size) == (3, 3),
                   f"Layer {i} (Conv2D) has kernel_size {tuple(g.kernel_size)}; use (3, 3).")
            expect(g.padding == "valid",
                   f"Layer {i} (Conv2D) uses padding='{g.padding}'. The spec uses the default "
                   f"'valid' padding, which shrinks each side by 2 with a 3x3 kernel "
                   f"(64 -> 62); 'same' would keep 64 and change every later shape.")
            expect(tuple(g.strides) == (1, 1), f"Layer {i} (Conv2D) should use strides (1, 1).")
        if kind in ("Conv2D", "Dense"):
            expect(_act(g) == _act(w),
                   f"Layer {i} ({kind}) has activation '{_act(g)}'; the spec uses "
                   f"'{_act(w)}'." + (" Without ReLU, stacked layers collapse into one linear "
                                      "map." if _act(w) == "relu" else
                                      " Ten classes, one answer: softmax turns the ten scores "
                                      "into probabilities that sum to 1."))
        if kind == "Dense":
            expect(g.units == w.units, f"Layer {i} (Dense) has {g.units} units; the spec "
                   f"asks for {w.units}.")
        if kind == "MaxPooling2D":
            expect(tuple(g.pool_size) == (2, 2), f"Layer {i} should pool with pool_size=(2, 2).")
    expect(model.count_params() == ref.count_params(),
           f"Your model has {model.count_params():,} parameters; the spec's has "
           f"{ref.count_params():,}.")
    passed(f"the seed CNN matches the spec ({model.count_params():,} parameters)")


def _conv_output_size(n: int, k: int, s: int = 1, padding: str = "valid") -> int:
    """Side length after a convolution (or pooling) of size k, stride s, on an n-wide input."""
    if padding == "same":
        return -(-n // s)  # ceil(n / s)
    return (n - k) // s + 1


def check_conv_output_size(fn) -> None:
    """``fn(n, k, s, padding)`` must give the same size as Keras' formula on many cases."""
    require(fn, "conv_output_size")
    cases = [(64, 3, 1, "valid"), (64, 3, 1, "same"), (28, 5, 1, "valid"), (32, 3, 2, "valid"),
             (32, 3, 2, "same"), (31, 2, 2, "valid"), (7, 7, 1, "valid"), (13, 3, 2, "same")]
    for n, k, s, pad in cases:
        got = fn(n, k, s, pad)
        expect(got is not None, "conv_output_size(...) returned None: replace the TODO line "
               "with a formula that returns an int.")
        want = _conv_output_size(n, k, s, pad)
        hint = ("With 'valid' padding the kernel must fit inside the input: (n - k) // s + 1."
                if pad == "valid" else
                "With 'same' padding the input is padded so only the stride shrinks it: "
                "ceil(n / s).")
        expect(got == want, f"conv_output_size({n}, {k}, {s}, '{pad}') returned {got}; "
               f"expected {want}. {hint}")
    passed("conv_output_size agrees with Keras on 'valid' and 'same' padding")


def check_param_count(count, model=None) -> None:
    """The hand-computed parameter count of the seed CNN must be exact."""
    require(count, "seed_cnn_params")
    want = _reference_seed_cnn().count_params()
    expect(int(count) == want,
           f"seed_cnn_params = {count:,}, but the model has {want:,}. Count each layer: a "
           f"Conv2D has (k * k * channels_in + 1) * filters; pooling and Flatten have none; "
           f"a Dense has (inputs + 1) * units. Flatten sees 14 * 14 * 64 values.")
    passed(f"parameter count by hand: {want:,}")


_HEAD_TASKS = {
    "digit_class": ("softmax", 10, "sparse_categorical_crossentropy"),
    "cat_or_dog": ("sigmoid", 1, "binary_crossentropy"),
    "house_price": ("linear", 1, "mse"),
}


def check_heads(heads: dict) -> None:
    """Each task gets (activation, units, loss) of the matching output head."""
    require(heads, "heads")
    for task, (act, units, loss) in _HEAD_TASKS.items():
        expect(task in heads, f"`heads` has no entry for {task!r}.")
        g_act, g_units, g_loss = require(heads[task], f"heads[{task!r}]")
        g_loss = {"mean_squared_error": "mse"}.get(g_loss, g_loss)
        if task == "digit_class":
            expect(g_act == "softmax", f"{task}: one of ten classes -> 'softmax', not "
                   f"'{g_act}': the ten probabilities must compete and sum to 1.")
            expect(g_units == 10, f"{task}: one output unit per class -> 10 units.")
            expect(g_loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"),
                   f"{task}: softmax pairs with a categorical cross-entropy loss "
                   f"('sparse_categorical_crossentropy' for integer labels), not '{g_loss}'.")
        elif task == "cat_or_dog":
            expect(g_act == "sigmoid", f"{task}: a yes/no answer -> one 'sigmoid' unit giving "
                   f"P(dog), not '{g_act}'. (softmax over a single unit always outputs 1.0.)")
            expect(g_units == 1, f"{task}: one sigmoid unit is enough for two classes.")
            expect(g_loss == "binary_crossentropy",
                   f"{task}: sigmoid pairs with 'binary_crossentropy', not '{g_loss}'.")
        else:
            expect(g_act in ("linear", None), f"{task}: a price can be any number -> a "
                   f"'linear' output (no squashing), not '{g_act}'.")
            expect(g_units == 1, f"{task}: one number out -> 1 unit.")
            expect(g_loss in ("mse", "mae", "huber"),
                   f"{task}: regression uses a distance loss such as 'mse', not '{g_loss}'.")
    passed("softmax for one-of-many, sigmoid for yes/no, linear for a number")


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
