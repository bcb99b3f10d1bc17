"""Checks for the transfer-learning lab: a shoe-and-bag shop on the pretrained backbone.

Each check tries the learner's answer on its own copies of the backbone and looks at what
the model *does* (which weights move in a training step), so it names the classic mistakes
without reading the code.
"""

from __future__ import annotations

import numpy as np

from . import expect, guarded, passed, require

SHOP_CLASSES = (5, 7, 8, 9)  # sandal, sneaker, bag, ankle boot
TOP_STAGE = "stage3"
# the fine-tuning rates the chapter measured: 1e-5 left the model where feature extraction
# put it; 1e-4 to 1e-2 trained the top stage; the head itself trains at 1e-2
MIN_FINE_TUNE_RATE, MAX_FINE_TUNE_RATE = 1e-4, 1e-2


def _backbone(model):
    import keras

    inner = [l for l in model.layers if isinstance(l, keras.Model)]
    expect(len(inner) == 1, "The model should contain the pretrained backbone as one layer "
           "(call it on the inputs: `features = backbone(inputs)`); found "
           f"{len(inner)} nested models.")
    return inner[0]


def _loss_name(model) -> str:
    loss = getattr(model, "loss", None)
    name = loss if isinstance(loss, str) else type(loss).__name__
    return name.replace("_", "").lower()


@guarded
def check_shop_labels(x_shop, y_shop, x_all, y_all, classes=SHOP_CLASSES) -> None:
    """The shop's images are those of ``classes``, labelled 0..k-1 in that order."""
    require(x_shop, "x_shop")
    require(y_shop, "y_shop")
    x_shop, y_shop = np.asarray(x_shop), np.asarray(y_shop).reshape(-1)
    keep = np.isin(y_all, classes)
    expect(len(x_shop) == len(y_shop), f"x_shop has {len(x_shop)} images but y_shop "
           f"{len(y_shop)} labels: select both with the same mask.")
    expect(len(x_shop) == int(keep.sum()), f"The training set has {int(keep.sum()):,} images "
           f"of classes {list(classes)}, x_shop has {len(x_shop):,}: keep exactly those.")
    found = set(np.unique(y_shop).tolist())
    expect(not found <= set(classes) or found == set(range(len(classes))),
           f"y_shop still holds the original labels {sorted(found)}. A new softmax layer with "
           f"{len(classes)} outputs needs labels 0..{len(classes) - 1}: map "
           f"{classes[0]} -> 0, {classes[1]} -> 1, and so on.")
    expect(found == set(range(len(classes))), f"y_shop holds the labels {sorted(found)}; "
           f"expected 0..{len(classes) - 1}, one per shop class.")
    want = np.array([list(classes).index(c) for c in y_all[keep]])
    expect(np.allclose(x_shop, x_all[keep]), "x_shop should keep the images in their "
           "original order (select them with a mask, do not shuffle).")
    expect(np.array_equal(y_shop, want), f"Some labels are numbered in another order: class "
           f"{classes[0]} should become 0, {classes[1]} -> 1, {classes[2]} -> 2, "
           f"{classes[3]} -> 3 (the order of SHOP_CLASSES).")
    passed(f"{len(x_shop):,} shop images, labels 0..{len(classes) - 1}")


@guarded
def check_feature_extractor(feature_extractor, make_backbone,
                            num_classes=len(SHOP_CLASSES)) -> None:
    """``feature_extractor(backbone, k)`` freezes the backbone, adds a k-way softmax and
    compiles with a loss for integer labels."""
    import keras

    require(feature_extractor, "feature_extractor")
    model = feature_extractor(make_backbone(), num_classes)
    require(model, "the model that feature_extractor returns")
    expect(isinstance(model, keras.Model), "feature_extractor should return a keras.Model, "
           f"got {type(model).__name__}.")
    expect(tuple(model.output_shape[1:]) == (num_classes,), f"The model outputs "
           f"{tuple(model.output_shape[1:])} numbers per image; the shop has {num_classes} "
           f"classes, so the new head needs Dense({num_classes}, activation='softmax').")
    backbone = _backbone(model)
    expect(not backbone.trainable and not backbone.trainable_weights,
           "The backbone is still trainable: feature extraction trains only the new head. "
           "Set `backbone.trainable = False` before compiling.")
    expect(getattr(model, "optimizer", None) is not None, "Compile the model before "
           "returning it (optimizer, loss, metrics).")
    expect("sparsecategoricalcrossentropy" in _loss_name(model),
           f"The loss is {model.loss!r}. The labels are integers 0..{num_classes - 1}, so use "
           f"'sparse_categorical_crossentropy' (categorical_crossentropy wants one-hot labels).")
    head = [l for l in model.layers if l is not backbone and l.trainable_weights]
    expect(head and getattr(head[-1], "activation", None) is keras.activations.softmax,
           "The new head should end in a softmax (Dense(..., activation='softmax')): the "
           "loss expects probabilities.")
    passed(f"frozen backbone, new {num_classes}-way softmax head, "
           f"{model.count_params() - backbone.count_params():,} trainable parameters")


def _stage_weights(backbone, top: bool):
    """The convolution kernels of the top stage (``top=True``) or of the stages below."""
    import keras

    return [w for l in backbone.layers if l.name.startswith(TOP_STAGE) == top
            and isinstance(l, keras.layers.Conv2D) for w in l.weights]


@guarded
def check_fine_tune(fine_tune, probe, x, y) -> None:
    """``fine_tune(probe)`` (a feature-extraction model of the check's own) unfreezes the top
    stage but its batch norm, compiles again with a fitting learning rate; one training step
    then moves the top stage."""
    import keras

    require(fine_tune, "fine_tune")
    model = probe
    backbone = _backbone(model)
    before_top = [keras.ops.convert_to_numpy(w) for w in _stage_weights(backbone, True)]
    result = fine_tune(model)
    model = result if isinstance(result, keras.Model) else model
    top = [l for l in backbone.layers if l.name.startswith(TOP_STAGE) and l.weights]
    low = [l for l in backbone.layers if not l.name.startswith(TOP_STAGE) and l.weights]
    expect(backbone.trainable and all(l.trainable for l in top if not isinstance(
               l, keras.layers.BatchNormalization)),
           f"The top stage is still frozen: set `backbone.trainable = True`, then "
           f"`layer.trainable` for each layer whose name starts with {TOP_STAGE!r} "
           f"(except batch norm).")
    norms = [l for l in top if isinstance(l, keras.layers.BatchNormalization)]
    expect(not any(l.trainable for l in norms),
           f"{sum(l.trainable for l in norms)} batch-norm layers of the top stage are "
           f"trainable, so `fit` runs them in training mode: they normalise with the "
           f"statistics of each tiny target batch and overwrite those of the source data. "
           f"In Keras 3 `backbone(inputs, training=False)` does not prevent that inside `fit`; "
           f"keep them frozen: `layer.trainable = False` for every BatchNormalization layer.")
    expect(not any(l.trainable for l in low),
           f"{sum(l.trainable for l in low)} layers below the top stage are trainable too. "
           f"With a few dozen images, fine-tune only the layers whose names start with "
           f"{TOP_STAGE!r}; keep the rest frozen (`layer.trainable = False`).")
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)
    moved = any(not np.array_equal(b, keras.ops.convert_to_numpy(w))
                for b, w in zip(before_top, _stage_weights(backbone, True)))
    expect(moved, "A training step did not change the top stage although it is trainable "
           "now: `fit` reuses the training step it built before, with the weights that were "
           "trainable then. Compile again *after* changing `trainable`.")
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    expect(rate >= MIN_FINE_TUNE_RATE, f"The optimizer's learning rate is {rate:g}: in a short "
           f"run, steps that small leave the top stage almost where it was (the chapter's sweep: "
           f"1e-5 stayed near the frozen model's accuracy). Use at least {MIN_FINE_TUNE_RATE:g}.")
    expect(rate <= MAX_FINE_TUNE_RATE, f"The optimizer's learning rate is {rate:g}: larger "
           f"steps than the new head took ({MAX_FINE_TUNE_RATE:g}), on pretrained weights "
           f"and a few dozen images. Fine-tune at most at {MAX_FINE_TUNE_RATE:g}.")
    passed(f"top stage unfrozen (batch norm frozen), {len(low)} lower layers frozen, "
           f"compiled again at learning rate {rate:g}")


@guarded
def check_accuracy(accuracy, minimum: float, what: str) -> None:
    """A measured test accuracy reaches ``minimum``."""
    require(accuracy, what)
    expect(0.0 <= float(accuracy) <= 1.0, f"{what} should be a share of the test images "
           f"between 0 and 1, got {accuracy!r}.")
    expect(float(accuracy) >= minimum, f"{what} is {float(accuracy):.3f}, below "
           f"{minimum:.2f}. Check the exercises above, run the cells again from the top.")
    passed(f"{what} {float(accuracy):.3f} >= {minimum:.2f}")
