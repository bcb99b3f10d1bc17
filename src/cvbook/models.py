"""Model builders shared by several notebooks, and a compact training log.

Each builder is short on purpose: the chapters print its source with
:func:`cvbook.plots.show_source`, so the code a learner reads is the code that runs.
"""

from __future__ import annotations

import math
import time


def small_cnn(input_shape, num_classes: int, width: int = 32, dropout: float = 0.0,
              name: str = "small_cnn"):
    """A small CNN for small images: two conv blocks, then a dense softmax head.

    conv(width) > relu > maxpool > conv(2*width) > relu > maxpool > flatten > dense(4*width)
    > [dropout] > dense(num_classes, softmax). 'same' padding keeps odd sizes such as 7x7 easy
    to pool.
    """
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(width, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(2 * width, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(4 * width, activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(num_classes, activation="softmax"),
    ], name=name)


def dense_baseline(input_shape, num_classes: int, hidden: int = 128, name: str = "dense_only"):
    """A dense-only network (no convolutions): flatten > dense(hidden) x2 > softmax."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Flatten(),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ], name=name)


def compile_classifier(model, learning_rate: float = 1e-3):
    """Compile a softmax classifier with Adam, sparse cross-entropy and accuracy; returns it."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def epoch_log(lines: int = 6, quiet_seconds: float = 60.0):
    """A Keras callback for ``fit(..., verbose=0, callbacks=[epoch_log()])``: compact progress.

    :func:`step_log` over the epochs: a line for the first epoch, the last, and about
    ``lines`` in all, each with the metrics and the time so far; also any epoch that ends
    ``quiet_seconds`` after the previous line, so a slow run is never silent for long. Pages
    stay readable where ``verbose=2`` would print every epoch.
    """
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.log = step_log(self.params["epochs"], "epoch", lines, quiet_seconds)

        def on_epoch_end(self, epoch, logs=None):
            self.log(epoch + 1, **(logs or {}))

    return EpochLog()


def step_log(total: int, label: str = "step", lines: int = 4, quiet_seconds: float = 60.0):
    """Compact progress for a hand-written loop: ``log = step_log(n); ... log(i + 1, loss=x)``.

    Prints the metrics and the time so far at the first step, the last, and about ``lines``
    evenly spaced ones in all, and at any step ``quiet_seconds`` after the previous line:
    plain lines that read the same in a terminal, a notebook and the book, where a Keras
    progress bar leaves control characters.
    """
    start = last = time.perf_counter()
    every = max(1, math.ceil(total / lines))

    def log(done: int, **metrics) -> None:
        nonlocal last
        now = time.perf_counter()
        if done in (1, total) or done % every == 0 or now - last >= quiet_seconds:
            values = "".join(f"  {k} {float(v):.4f}" for k, v in metrics.items())
            print(f"{label} {done:>{len(str(total))}}/{total}{values}  ({now - start:.0f} s)",
                  flush=True)
            last = now

    return log
