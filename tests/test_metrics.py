"""The generative-quality scores: Fréchet distance and the classifier-feature scorer."""

import numpy as np
import pytest

from cvbook import data, metrics


def test_frechet_is_zero_for_identical_sets_and_symmetric():
    a = np.random.default_rng(0).normal(size=(200, 8))
    b = np.random.default_rng(1).normal(loc=0.5, size=(300, 8))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert metrics.frechet_distance(a, b) == pytest.approx(metrics.frechet_distance(b, a))


def test_frechet_matches_the_closed_form():
    a = np.random.default_rng(0).normal(size=(500, 6)) @ np.diag([1, 2, 3, 1, 1, 0.5])
    shift = np.arange(6.0)
    # same covariance, shifted mean: the distance is the squared shift
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(np.sum(shift ** 2))
    # b = 2a: |mu_a - 2 mu_a|^2 + tr(C) + tr(4C) - 2 tr(2C) = |mu_a|^2 + tr(C)
    want = np.sum(a.mean(0) ** 2) + np.trace(np.cov(a, rowvar=False))
    assert metrics.frechet_distance(a, 2 * a) == pytest.approx(want)


def test_frechet_handles_singular_covariances_and_rejects_bad_shapes():
    a = np.random.default_rng(0).normal(size=(100, 5))
    a[:, 2] = 0.0  # a dead feature, as after a ReLU
    assert np.isfinite(metrics.frechet_distance(a, a[::-1] + 0.1))
    with pytest.raises(ValueError):
        metrics.frechet_distance(a, a[:, :4])
    with pytest.raises(ValueError):
        metrics.frechet_distance(a[:1], a)


@pytest.fixture(scope="module")
def digits_and_scorer():
    import cvbook

    cvbook.set_seed(0)
    ds = data.load("digits", image_size=16)
    return ds, metrics.ImageScorer(ds.x_train, ds.y_train, ds.num_classes, epochs=6)


def test_scorer_floor_noise_and_diversity(digits_and_scorer):
    ds, scorer = digits_and_scorer
    assert scorer.accuracy(ds.x_test, ds.y_test) > 0.85
    same = scorer.score(ds.x_train)
    assert same.frechet == pytest.approx(0.0, abs=1e-6)
    real = scorer.score(ds.x_test)
    noise = scorer.score(np.random.default_rng(0).random(ds.x_test.shape))
    assert real.frechet * 20 < noise.frechet, (real, noise)
    assert real.coverage == 1.0 and real.balance > 0.95
    one_class = scorer.score(ds.x_test[ds.y_test == 3])
    assert one_class.coverage == pytest.approx(0.1)
    assert one_class.balance < 0.2
    assert one_class.frechet > 5 * real.frechet
    assert set(real.as_dict()) == {"frechet", "coverage", "balance", "confidence"}
