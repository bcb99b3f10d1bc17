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
    return ds, metrics.ImageScorer.train(ds.x_train, ds.y_train, ds.num_classes, epochs=6)


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
    assert set(real.as_dict()) == {"frechet", "kid", "coverage", "balance", "confidence"}
    assert abs(real.kid) < 0.1 * noise.kid and one_class.kid > real.kid


def test_scorer_compares_other_sizes_with_real_images_of_that_size(digits_and_scorer):
    import tensorflow as tf

    ds, scorer = digits_and_scorer
    small_train = tf.image.resize(ds.x_train, (8, 8), antialias=True).numpy()
    assert scorer.score(small_train).frechet == pytest.approx(0.0, abs=1e-6)
    small_test = tf.image.resize(ds.x_test, (8, 8), antialias=True).numpy()
    noise = np.random.default_rng(0).random(small_test.shape)
    assert scorer.score(small_test).frechet * 10 < scorer.score(noise).frechet
    with pytest.raises(ValueError, match="images must have 1 channel"):
        scorer.score(np.zeros((4, 16, 16, 3), "float32"))


def _kid_by_loops(a, b):
    """KID written out term by term, as in the paper (no vectorisation, no shortcuts)."""
    d = a.shape[1]
    k = lambda x, y: (np.dot(x, y) / d + 1.0) ** 3
    m, n = len(a), len(b)
    xx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_the_definition_and_is_unbiased():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(12, 4)), rng.normal(loc=0.3, size=(9, 4))
    assert metrics.kernel_inception_distance(a, b) == pytest.approx(_kid_by_loops(a, b))
    # two samples of one distribution: KID averages to 0 (Frechet stays biased above 0)
    kids = [metrics.kernel_inception_distance(rng.normal(size=(50, 4)), rng.normal(size=(50, 4)))
            for _ in range(200)]
    assert abs(np.mean(kids)) < 3 * np.std(kids) / np.sqrt(len(kids))
    assert metrics.kernel_inception_distance(a, a + 2.0) > 10 * abs(np.mean(kids))
    with pytest.raises(ValueError, match="same d"):
        metrics.kernel_inception_distance(a, b[:, :3])


def test_the_two_shipped_rulers_agree_on_an_obvious_ranking():
    """Real held-out images < the DCGAN checkpoint's samples < uniform noise, on both the
    reference scorer and the second scorer (another architecture, trained separately)."""
    from cvbook import checkpoints
    import train_checkpoints

    real = data.load("fashion_mnist", n_train=1, n_test=500, seed=0).x_test
    generated = train_checkpoints.dcgan_samples(checkpoints.load("dcgan"), 500)
    noise = np.random.default_rng(0).random(real.shape).astype("float32")
    for scorer in (metrics.reference_scorer(), metrics.second_scorer()):
        real_s, gan_s, noise_s = (scorer.score(x) for x in (real, generated, noise))
        assert real_s.frechet < gan_s.frechet < noise_s.frechet
        assert real_s.kid < gan_s.kid < noise_s.kid
    assert metrics.second_scorer().classifier.name == "second_scorer_cnn"
