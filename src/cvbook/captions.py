"""Captions that can be checked: each image described by its class and by attributes measured
on the image itself, so that a text-to-image model's prompt-following can be scored on the
images it generates with the very measurements that wrote the captions.

Three attributes, each split at its median within the image's class (so that every class
has both values of every attribute in about equal shares, and "small" means small for that
kind of garment):

- ``tone``: ``dark`` or ``light``, the mean brightness of the garment's pixels;
- ``size``: ``small`` or ``large``, the share of the frame the garment covers;
- ``texture``: ``plain`` or ``patterned``, the mean absolute difference between
  neighbouring garment pixels.

A garment's pixels are those brighter than :data:`GARMENT`. Some (class, tone, size)
combinations can be kept out of training (:func:`held_out`) to test whether a model composes
words it has seen only apart.
"""

from __future__ import annotations

import numpy as np

from . import args

ATTRIBUTES = {"tone": ("dark", "light"), "size": ("small", "large"),
              "texture": ("plain", "patterned")}
# one or two words per Fashion-MNIST class, as the captions say them
CLASS_WORDS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
               "sneaker", "bag", "ankle boot")
GARMENT = 0.1  # pixels brighter than this (in [0, 1]) belong to the garment
# caption phrasings: {cls} is always said, and any of the attributes
TEMPLATES = ("a {cls}", "a {tone} {cls}", "a {size} {cls}", "a {texture} {cls}",
             "a {tone} {size} {cls}", "{cls}, {tone}, {size}", "a {size} {texture} {cls}",
             "a {tone} {texture} {cls}", "a {size} {tone} {texture} {cls}",
             "{cls}, {size}, {tone} and {texture}")
# (class, tone, size) combinations the text-to-image chapter keeps out of training:
# five classes, all four pairings among them (0 = dark / small, 1 = light / large)
HELD_OUT = ((0, 1, 0), (3, 0, 1), (5, 1, 1), (7, 0, 0), (9, 1, 0))


def measure(images) -> dict[str, np.ndarray]:
    """The three raw measurements of each image (``images``: N x H x W x 1 in [0, 1])."""
    x = args.images(images, "images", channels=1)[..., 0]
    garment = x > GARMENT
    pixels = np.maximum(garment.sum((1, 2)), 1)
    pairs = [(np.abs(np.diff(x, axis=a)), garment[:, 1:] & garment[:, :-1] if a == 1 else
              garment[:, :, 1:] & garment[:, :, :-1]) for a in (1, 2)]
    edges = sum(both.sum((1, 2)) for _, both in pairs)
    return {"tone": (x * garment).sum((1, 2)) / pixels,
            "size": garment.mean((1, 2)),
            "texture": sum((d * both).sum((1, 2)) for d, both in pairs) / np.maximum(edges, 1)}


def fit(images, labels, num_classes: int = 10) -> np.ndarray:
    """The per-class medians of the measurements: an array (num_classes, 3), in the order of
    :data:`ATTRIBUTES`. Every class needs at least one image."""
    m = measure(images)
    labels = args.labels(labels, "labels", len(m["tone"]), num_classes)
    missing = sorted(set(range(num_classes)) - set(labels.tolist()))
    if missing:
        raise ValueError(f"labels: no image of class {missing} to set its thresholds from")
    return np.array([[np.median(m[a][labels == c]) for a in ATTRIBUTES]
                     for c in range(num_classes)])


def attributes(images, labels, thresholds) -> np.ndarray:
    """0 or 1 per image and attribute (N x 3, order of :data:`ATTRIBUTES`; 1 = the second
    word: light, large, patterned), each measurement compared with its class's threshold."""
    m = measure(images)
    thresholds = np.asarray(thresholds, "float64")
    labels = args.labels(labels, "labels", len(m["tone"]), len(thresholds))
    values = np.stack([m[a] for a in ATTRIBUTES], 1)
    return (values > thresholds[labels]).astype("int32")


def caption(labels, attrs, seed: int = 0) -> list[str]:
    """One caption per image, a random phrasing (:data:`TEMPLATES`) of its class and of
    none, some or all of its attributes (``attrs`` from :func:`attributes`)."""
    attrs = np.asarray(attrs)
    labels = args.labels(labels, "labels", len(attrs), len(CLASS_WORDS))
    if attrs.ndim != 2 or attrs.shape[1] != len(ATTRIBUTES) or not np.isin(attrs, (0, 1)).all():
        raise ValueError(f"attrs must be 0s and 1s of shape (N, {len(ATTRIBUTES)}), from "
                         f"captions.attributes; got shape {attrs.shape}")
    rng = np.random.default_rng(seed)
    out = []
    for label, row, k in zip(labels, attrs, rng.integers(len(TEMPLATES), size=len(labels))):
        words = {a: ATTRIBUTES[a][v] for a, v in zip(ATTRIBUTES, row)}
        out.append(TEMPLATES[k].format(cls=CLASS_WORDS[label], **words))
    return out


def parse(text: str) -> tuple[int, dict[str, int]]:
    """The class and the attributes a caption (or a prompt) asks for: ``(class, {attribute:
    0 or 1})`` with only the attributes it names."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty caption such as 'a dark small coat', got "
                         f"{text!r}")
    words = text.lower().replace(",", " ").split()
    # the longest class name that matches ("t-shirt" and "ankle boot" before "shirt")
    found = [c for c, name in sorted(enumerate(CLASS_WORDS), key=lambda p: -len(p[1]))
             if f" {name} " in f" {' '.join(words)} "]
    if not found:
        raise ValueError(f"text: {text!r} names no class; the classes are "
                         f"{', '.join(CLASS_WORDS)}")
    asked = {a: values.index(w) for a, values in ATTRIBUTES.items() for w in words
             if w in values}
    return found[0], asked


def held_out(labels, attrs, combos=HELD_OUT) -> np.ndarray:
    """True for the images whose (class, tone, size) is one of ``combos``."""
    combos = set(combos)
    return np.array([(int(c), int(a[0]), int(a[1])) in combos
                     for c, a in zip(np.asarray(labels), np.asarray(attrs))], dtype=bool)
