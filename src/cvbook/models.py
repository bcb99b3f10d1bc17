"""Model builders shared by several notebooks.

Each builder is short on purpose: the chapters print its source with :func:`show_source`, so
the code a learner reads is the code that runs.
"""

from __future__ import annotations

import inspect


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


def show_source(obj):
    """Display the source code of a function or class of this package in the notebook."""
    from IPython.display import Code, display

    display(Code(inspect.getsource(obj), language="python"))
