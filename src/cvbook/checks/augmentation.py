"""Checks for the augmentation lab."""

from __future__ import annotations

import numpy as np

from . import expect, guarded, passed, require

# The spec of Exercise 1 (pet photos, values in [0, 1]).
MAX_ROTATION = 0.1  # fraction of a full turn
MAX_ZOOM = 0.2
MAX_BRIGHTNESS = 0.2


def _bounds(factor) -> float:
    """Largest magnitude a Keras factor allows (a number or a (low, high) pair)."""
    if isinstance(factor, (tuple, list)):
        return max(abs(float(f)) for f in factor)
    return abs(float(factor))


@guarded
def check_pipeline(augment, images) -> None:
    """The learner's pipeline must meet the spec, layer by layer and on real images."""
    import keras

    require(augment, "augment")
    expect(isinstance(augment, keras.Sequential),
           "`augment` should be a keras.Sequential of augmentation layers.")
    by_type = {}
    for layer in augment.layers:
        by_type.setdefault(type(layer).__name__, []).append(layer)
    allowed = {"RandomFlip", "RandomRotation", "RandomZoom", "RandomBrightness"}
    extra = sorted(set(by_type) - allowed)
    expect(not extra, f"The spec has no {', '.join(extra)}: use only a flip, a rotation, a zoom "
           f"and a brightness change.")
    for name in sorted(allowed):
        expect(len(by_type.get(name, [])) == 1, f"The pipeline needs exactly one {name} layer.")
    flip = by_type["RandomFlip"][0]
    expect(flip.mode == "horizontal",
           f"RandomFlip uses mode='{flip.mode}'. Pets are never upside down in photos: flip "
           f"left-right only, RandomFlip('horizontal').")
    rot = _bounds(by_type["RandomRotation"][0].factor)
    expect(rot <= MAX_ROTATION + 1e-9,
           f"RandomRotation can turn images by up to {rot:g} of a full turn ({rot * 360:.0f}°); "
           f"the spec allows at most {MAX_ROTATION} ({MAX_ROTATION * 360:.0f}°). The factor is a "
           f"fraction of 2π, not degrees.")
    expect(rot > 0, "RandomRotation(0) never rotates: use a factor up to 0.1.")
    zoom = by_type["RandomZoom"][0]
    z = max(_bounds(zoom.height_factor), _bounds(zoom.width_factor or 0))
    expect(0 < z <= MAX_ZOOM + 1e-9, f"RandomZoom goes up to {z:g}; the spec says at most "
           f"{MAX_ZOOM} (20%).")
    bright = by_type["RandomBrightness"][0]
    vr = tuple(float(v) for v in bright.value_range)
    expect(vr == (0.0, 1.0),
           f"RandomBrightness assumes pixel values in {vr}, but the photos are in [0, 1]: pass "
           f"value_range=(0, 1), or brightness changes of up to 255x the image range follow.")
    b = _bounds(bright.factor)
    expect(0 < b <= MAX_BRIGHTNESS + 1e-9,
           f"RandomBrightness factor {b:g}; the spec says at most {MAX_BRIGHTNESS}.")
    out = np.asarray(augment(images, training=True))
    expect(out.shape == images.shape, f"The pipeline changes the shape {images.shape} -> "
           f"{out.shape}; augmentations here must keep the image size.")
    expect(out.min() >= -1e-6 and out.max() <= 1 + 1e-6,
           f"Augmented values leave [0, 1]: [{out.min():.2f}, {out.max():.2f}].")
    passed("the pipeline meets the spec")


@guarded
def check_inactive_detector(fn, augment, images) -> None:
    """``fn(layer, images)`` must tell a training-only augmentation from the two wrong kinds."""
    import keras

    require(fn, "is_inactive_at_inference")

    class AlwaysNoisy(keras.layers.Layer):
        """Adds noise even at inference: the classic bug of a hand-written augmentation."""

        def call(self, x, training=None):
            return x + keras.random.normal(keras.ops.shape(x), stddev=0.1, seed=1)

    identity = keras.layers.Identity()
    cases = [
        (augment, True, "your pipeline: active in training, inactive at inference"),
        (AlwaysNoisy(), False, "a layer that adds noise even at inference (training=False)"),
        (identity, False, "a layer that never changes anything, even in training"),
    ]
    for layer, want, what in cases:
        got = fn(layer, images)
        expect(got is not None, "is_inactive_at_inference returned None: return True or False.")
        expect(bool(got) == want,
               f"is_inactive_at_inference said {bool(got)} for {what}; expected {want}. Compare "
               f"layer(images, training=False) with the images (must be equal) AND "
               f"layer(images, training=True) with them (must differ).")
    passed("you can prove an augmentation is off at inference")


_SAFE = {
    "digits": {"small_rotation", "zoom", "shift", "brightness"},
    "pets": {"horizontal_flip", "small_rotation", "zoom", "shift", "brightness"},
    "satellite": {"horizontal_flip", "vertical_flip", "rotate_180", "small_rotation", "zoom",
                  "shift", "brightness"},
}
# the menu the lab offers (the answers above are a subset of it per dataset)
OPTIONS = frozenset({"horizontal_flip", "vertical_flip", "rotate_180", "small_rotation", "zoom",
                     "shift", "brightness"})
_WHY_UNSAFE = {
    ("digits", "horizontal_flip"): "a mirrored 2, 3 or 7 is not a digit any more",
    ("digits", "vertical_flip"): "flipped upside down, a 6 looks like a 9",
    ("digits", "rotate_180"): "a 6 turned half a turn is a 9: the label changes",
    ("pets", "vertical_flip"): "pet photos are never upside down, so this teaches nothing "
                               "useful and wastes capacity",
    ("pets", "rotate_180"): "pet photos are never upside down",
}


@guarded
def check_safe_choices(safe: dict) -> None:
    """Only label-preserving augmentations, and enough of them, for each dataset."""
    require(safe, "safe")
    for dataset, right in _SAFE.items():
        chosen = set(require(safe.get(dataset), f"safe[{dataset!r}]"))
        unknown = chosen - OPTIONS
        expect(not unknown, f"{dataset}: unknown option(s) {sorted(unknown)}; choose from "
               f"{sorted(OPTIONS)}.")
        unsafe = sorted(chosen - right)
        expect(not unsafe, f"{dataset}: {unsafe[0]} is not safe: "
               f"{_WHY_UNSAFE.get((dataset, unsafe[0]))}." if unsafe else "")
        if dataset == "satellite":
            expect({"vertical_flip", "rotate_180"} <= chosen,
                   "satellite: seen from above there is no 'up': vertical flips and half turns "
                   "are safe and useful.")
        missing = right - chosen
        expect(len(missing) <= 1, f"{dataset}: you left out {sorted(missing)}, which keep the "
               f"label true. Use the safe variety you have.")
    passed("augmentations chosen to keep every label true")


def _camera_model(augment, seed: int):
    """The small CNN of chapter 3, with ``augment`` (or nothing) in front, compiled."""
    import keras

    from .. import models
    from ..seed import set_seed

    set_seed(seed)
    inputs = keras.Input(shape=(28, 28, 1))
    x = augment(inputs) if augment is not None else inputs
    cnn = models.small_cnn((28, 28, 1), 10, width=32, dropout=0.25)
    return models.compile_classifier(keras.Model(inputs, cnn(x)))


_BASELINES: dict = {}  # (data, epochs, seed) -> (old, new) accuracy without augmentation


def _fit_and_score(augment, ds, x_new, epochs: int, seed: int) -> tuple[float, float]:
    model = _camera_model(augment, seed)
    model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=64, verbose=0)
    return (float(model.evaluate(ds.x_test, ds.y_test, verbose=0)[1]),
            float(model.evaluate(x_new, ds.y_test, verbose=0)[1]))


def _baseline(ds, x_new, epochs: int, seed: int) -> tuple[tuple[float, float], bool]:
    """The CNN without augmentation, trained once per data, budget and seed (a learner who
    tries several pipelines waits for one training each, not two). Returns the accuracies and
    whether they came from the cache."""
    import hashlib

    digest = hashlib.sha1()
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test, x_new):
        digest.update(np.ascontiguousarray(a).tobytes())
    key = (digest.hexdigest(), epochs, seed)
    cached = key in _BASELINES
    if not cached:
        _BASELINES[key] = _fit_and_score(None, ds, x_new, epochs, seed)
    return _BASELINES[key], cached


@guarded
def check_camera_pipeline(camera_augment, ds, x_new, epochs: int, margin: float,
                          max_drop: float, seed: int = 0) -> dict:
    """Train the same CNN without augmentation and with ``camera_augment``; the pipeline must
    win on the new camera's test images by ``margin`` and lose at most ``max_drop`` on the old
    camera's. Returns the four accuracies."""
    import time

    import keras

    require(camera_augment, "camera_augment")
    expect(isinstance(camera_augment, keras.Sequential) and camera_augment.layers,
           "`camera_augment` should be a keras.Sequential of Keras preprocessing layers.")
    sample = ds.x_train[:32]
    trained = np.asarray(camera_augment(sample, training=True))
    expect(trained.shape == sample.shape,
           f"Your pipeline turns images of shape {sample.shape[1:]} into {trained.shape[1:]}; "
           f"at inference they would keep their size, so the model would see two sizes. Keep "
           f"the size (no RandomCrop or Resizing here).")
    expect(not np.allclose(trained, sample), "Your pipeline leaves the training images as they "
           "are: does it hold any random layer?")
    expect(np.array_equal(np.asarray(camera_augment(sample, training=False)), sample),
           "Your pipeline changes the images at inference too (training=False): the model "
           "would be tested on altered images. Use layers that act in training only (your "
           "is_inactive_at_inference from Exercise 2 tells them apart).")
    start = time.perf_counter()
    (old_none, new_none), cached = _baseline(ds, x_new, epochs, seed)
    when = "trained earlier" if cached else f"{time.perf_counter() - start:.0f} s"
    print(f"no augmentation   old camera {old_none:.3f}  new camera {new_none:.3f}  "
          f"({epochs} epochs, {when})", flush=True)
    start = time.perf_counter()
    old_yours, new_yours = _fit_and_score(camera_augment, ds, x_new, epochs, seed)
    print(f"your pipeline     old camera {old_yours:.3f}  new camera {new_yours:.3f}  "
          f"({epochs} epochs, {time.perf_counter() - start:.0f} s)", flush=True)
    gain, drop = new_yours - new_none, old_none - old_yours
    expect(drop <= max_drop,
           f"Your pipeline costs {100 * drop:.1f} points on the old camera's images (at most "
           f"{100 * max_drop:.0f} allowed): its changes are stronger than the new camera's. "
           f"Turn the factors down to what the photos show.")
    expect(gain >= margin,
           f"On the new camera your pipeline gains {100 * gain:+.1f} points over no "
           f"augmentation; at least {100 * margin:.0f} are needed. Compare the two cameras' "
           f"photos again: more than one thing differs, and each needs its own layer. A layer "
           f"that makes changes the new camera never makes (a flip upside down, a colour "
           f"inversion) costs accuracy instead.")
    passed(f"new camera: {new_none:.3f} -> {new_yours:.3f} ({100 * gain:+.1f} points); old "
           f"camera: {old_none:.3f} -> {old_yours:.3f}")
    return dict(old_none=old_none, new_none=new_none, old_yours=old_yours, new_yours=new_yours)
