"""Captions built from measured attributes, and read back."""

import numpy as np
import pytest

from cvbook import captions


def _square(size, brightness, checker=False):
    x = np.zeros((28, 28, 1), "float32")
    lo, hi = 14 - size // 2, 14 + size // 2
    x[lo:hi, lo:hi] = brightness
    if checker:  # a pattern: every other pixel of the square a little darker
        x[lo:hi:2, lo:hi] *= 0.6
    return x


def test_measurements_see_tone_size_and_texture():
    m = captions.measure(np.stack([_square(20, 0.9), _square(8, 0.3), _square(20, 0.9, True)]))
    assert m["tone"][0] > m["tone"][1] and m["size"][0] > m["size"][1]
    assert m["size"][0] == pytest.approx(400 / 784)
    assert m["texture"][2] > 0.1 > m["texture"][0] == 0.0


def test_attributes_split_every_class_near_half_and_half():
    rng = np.random.default_rng(0)
    images = np.stack([_square(int(rng.integers(6, 26)), rng.uniform(0.2, 1.0),
                               bool(rng.integers(2))) for _ in range(400)])
    labels = np.arange(400) % 10
    attrs = captions.attributes(images, labels, captions.fit(images, labels))
    assert attrs.shape == (400, 3)
    for c in range(10):
        share = attrs[labels == c].mean(0)
        assert np.all((share >= 0.35) & (share <= 0.55)), (c, share)


def test_every_caption_reads_back_as_its_class_and_attributes():
    rng = np.random.default_rng(1)
    labels, attrs = np.arange(300) % 10, rng.integers(0, 2, size=(300, 3))
    texts = captions.caption(labels, attrs, seed=0)
    used = set()
    for text, label, row in zip(texts, labels, attrs):
        cls, asked = captions.parse(text)
        assert cls == label, text
        assert all(row[list(captions.ATTRIBUTES).index(a)] == v for a, v in asked.items()), text
        used.add(tuple(sorted(asked)))
    assert len(used) == 8  # none, each one, each pair, all three
    assert captions.parse("a dark t-shirt") == (0, {"tone": 0})
    assert captions.parse("shirt, large") == (6, {"size": 1})
    assert captions.parse("a small light ankle boot") == (9, {"size": 0, "tone": 1})


def test_held_out_marks_exactly_the_listed_combinations():
    labels = np.array([0, 0, 3, 3])
    attrs = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1]])
    assert captions.held_out(labels, attrs).tolist() == [True, False, True, False]


@pytest.mark.parametrize("call, match", [
    (lambda: captions.parse(""), "non-empty"),
    (lambda: captions.parse("a red car"), "names no class"),
    (lambda: captions.caption([0], [[0, 2, 1]]), "0s and 1s"),
    (lambda: captions.fit(np.zeros((2, 28, 28, 1)), [0, 1], num_classes=3), r"class \[2\]")])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
