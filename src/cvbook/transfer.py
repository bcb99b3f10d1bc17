"""Transfer learning: a small residual network, its backbone, and the three ways to reuse it.

The transfer chapter prints these functions with :func:`cvbook.plots.show_source`; the lab,
the tests and ``make checkpoints`` run the same code.

    model = transfer.resnet(num_classes=5)            # backbone + softmax head
    backbone = model.get_layer("backbone")            # image -> feature vector
    new = transfer.with_new_head(backbone, 3)         # reuse it for 3 new classes
"""

from __future__ import annotations

import math

import numpy as np

from . import args

# Fashion-MNIST's classes split in two: the backbone learns the first five (the *source* task),
# the transfer experiments reuse it on the other five (the *target* task).
SOURCE_CLASSES = (0, 1, 2, 3, 4)  # T-shirt/top, Trouser, Pullover, Dress, Coat
TARGET_CLASSES = (5, 6, 7, 8, 9)  # Sandal, Shirt, Sneaker, Bag, Ankle boot
# How much of its running mean and variance batch norm keeps at each training step. Keras'
# default, 0.99, needs several hundred steps before the running statistics fit the data; a
# short run then scores at chance at inference. 0.9 is PyTorch's default (momentum=0.1 there).
BN_MOMENTUM = 0.9


def residual_block(x, filters: int, stride: int = 1, skip: bool = True, name: str = "block"):
    """conv 3x3 > batch norm > ReLU > conv 3x3 > batch norm, plus the block's input, > ReLU.

    Where the block changes the shape (stride 2, or more filters), the input goes through a
    1x1 convolution first so that the two can be added. ``skip=False`` drops the addition:
    the same layers, stacked plainly. Every layer's name starts with ``name``.
    """
    from keras import layers

    def norm(part):
        return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_{part}")

    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name=f"{name}_conv1")(x)
    y = layers.ReLU(name=f"{name}_relu1")(norm("bn1")(y))
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = norm("bn2")(y)
    if skip:
        if stride != 1 or x.shape[-1] != filters:  # make the input fit: a 1x1 convolution
            x = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                              name=f"{name}_proj")(x)
            x = norm("proj_bn")(x)
        y = layers.Add(name=f"{name}_add")([y, x])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet(input_shape=(28, 28, 1), num_classes: int = 10, widths=(32, 64, 128),
           blocks: int = 1, skip: bool = True, name: str = "resnet"):
    """A small residual CNN: a stem convolution, one stage per width (each halves the image,
    28 > 14 > 7 > 4), global average pooling, and a softmax head.

    Everything up to the pooling is one sub-model named ``"backbone"``: the part that
    transfers. ``blocks`` residual blocks per stage; ``skip=False`` builds the same depth
    without the skip connections. Layer names start with their stage (``stage3_...``).
    """
    args.network(input_shape, num_classes, widths, blocks)  # a clear error for bad arguments
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, width in enumerate(widths, start=1):
        for block in range(1, blocks + 1):
            x = residual_block(x, width, stride=2 if block == 1 else 1, skip=skip,
                               name=f"stage{stage}_block{block}")
    features = layers.GlobalAveragePooling2D(name="pool")(x)
    backbone = keras.Model(inputs, features, name="backbone")

    images = keras.Input(input_shape)
    outputs = layers.Dense(num_classes, activation="softmax", name="head")(backbone(images))
    return keras.Model(images, outputs, name=name)


def with_new_head(backbone, num_classes: int, name: str = "transfer"):
    """A new classifier on a pretrained backbone: its features > a new softmax layer.

    Freezing is up to the caller (``backbone.trainable = False``). Keras' transfer guide
    also calls the backbone with ``training=False``; in Keras 3 ``fit`` overrides that for
    every layer of a functional model (keras-team/keras#20285), so it is left out here: what
    keeps a batch-norm layer in inference mode is ``trainable = False`` on that layer.
    """
    args.integer(num_classes, "num_classes", 2)
    import keras
    from keras import layers

    inputs = keras.Input(backbone.input_shape[1:])
    outputs = layers.Dense(num_classes, activation="softmax", name="new_head")(backbone(inputs))
    return keras.Model(inputs, outputs, name=name)


def unfreeze_top(backbone, stage: str = "stage3"):
    """Make the layers of one stage trainable for fine-tuning -- except batch norm, which
    stays frozen and so keeps normalising with the statistics of the source data. Every
    other layer of the backbone is frozen. Compile the model again afterwards."""
    import keras

    names = [layer.name for layer in backbone.layers]
    if not any(n.startswith(stage) for n in names):
        stages = sorted({n.split("_")[0] for n in names if n.startswith("stage")})
        raise ValueError(f"stage {stage!r}: no layer of the backbone has a name starting "
                         f"with it; its stages are {stages}")
    backbone.trainable = True
    for layer in backbone.layers:
        is_norm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = layer.name.startswith(stage) and not is_norm
    return backbone


def compile_model(model, learning_rate: float):
    """Adam, sparse cross-entropy, accuracy. Call it again after every change of
    ``trainable``: Keras builds its training step at compile time."""
    args.number(learning_rate, "learning_rate", 0.0, 1.0)
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model, x, y, steps: int, batch_size: int = 32):
    """``fit`` for about ``steps`` gradient steps, whatever the number of images (a run on 25
    images gets as many updates as one on 500), silently. Returns the History."""
    args.integer(steps, "steps", 1)
    args.integer(batch_size, "batch_size", 1)
    batch = min(batch_size, len(x))
    epochs = max(1, round(steps / math.ceil(len(x) / batch)))
    return model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)


def accuracy(model, x, y) -> float:
    """Share of ``x`` that ``model`` classifies as ``y``. (Direct calls, not ``predict``:
    TensorFlow warns about retracing when many models each get a ``predict``.)"""
    import keras

    probs = [keras.ops.convert_to_numpy(model(x[i:i + 500], training=False))
             for i in range(0, len(x), 500)]
    return float(np.mean(np.concatenate(probs).argmax(1) == np.asarray(y)))


def pick_classes(x, y, classes, avoid=None, name: str = "classes"):
    """The images of ``classes`` only, labels renumbered 0..k-1 in the order given.

    ``avoid`` (the source classes) must not overlap ``classes``: a "new" task that contains
    the pretraining classes would measure nothing about transfer.
    """
    y = np.asarray(y)
    classes = [int(c) for c in _class_list(classes, name)]
    missing = [c for c in classes if not np.any(y == c)]
    if missing:
        raise ValueError(f"{name}: no image has label {missing}; the labels present are "
                         f"{sorted(set(y.tolist()))}")
    if avoid is not None:
        overlap = sorted(set(classes) & {int(c) for c in avoid})
        if overlap:
            raise ValueError(f"{name} {classes} overlap the source classes {list(avoid)} "
                             f"(both have {overlap}): a target task must be new classes")
    keep = np.isin(y, classes)
    remap = np.zeros(int(y.max()) + 1, dtype="int32")
    remap[classes] = np.arange(len(classes))
    return x[keep], remap[y[keep]]


def _class_list(classes, name):
    if (not isinstance(classes, (list, tuple, np.ndarray)) or len(classes) < 2
            or len(set(int(c) for c in classes)) != len(classes)):
        raise ValueError(f"{name} must be a list of at least two distinct class labels, "
                         f"got {classes!r}")
    return classes


def few_per_class(x, y, per_class: int, seed: int = 0):
    """``per_class`` random images of each label in ``y`` (a few-shot training set)."""
    args.integer(per_class, "per_class", 1)
    rng = np.random.default_rng(seed)
    idx = []
    for c in np.unique(y):
        pool = np.flatnonzero(y == c)
        if len(pool) < per_class:
            raise ValueError(f"per_class={per_class}, but class {c} has only {len(pool)} images")
        idx.extend(rng.choice(pool, per_class, replace=False))
    idx = np.sort(np.asarray(idx))
    return x[idx], y[idx]


class OnlineBackboneError(RuntimeError):
    """The ImageNet weights of a ``keras.applications`` model could not be downloaded."""


def imagenet_backbone(image_size: int = 224):
    """MobileNetV3Small pretrained on ImageNet, as a feature extractor: colour images in
    [0, 255] of shape (N, image_size, image_size, 3) > one feature vector each.

    Keras downloads the weights once (into ``~/.keras/models``), so this needs the internet
    the first time; offline it raises :class:`OnlineBackboneError` saying so.
    """
    args.integer(image_size, "image_size", 32)
    import keras

    try:
        return keras.applications.MobileNetV3Small(
            input_shape=(image_size, image_size, 3), include_top=False, weights="imagenet",
            pooling="avg")
    except Exception as err:  # noqa: BLE001 - no network, a proxy, a partial download...
        raise OnlineBackboneError(
            f"online=True needs the internet once: keras.applications.MobileNetV3Small "
            f"downloads its ImageNet weights (about 4 MB) into ~/.keras/models, and that "
            f"failed ({type(err).__name__}: {str(err)[:160]}). Offline, set online=False: "
            f"the chapter's own backbone (checkpoints.load('backbone')) plays the same role, "
            f"pretrained on Fashion-MNIST instead of ImageNet.") from None
