"""Translation building blocks: sketches, the night recipe, the U-Net and PatchGAN networks,
the pix2pix and cycle losses, and that both train_steps learn."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvbook import data, translation
from cvbook.seed import set_seed


@pytest.fixture(scope="module")
def garments():
    ds = data.load("fashion_mnist", n_train=256, n_test=64, seed=0)
    return ds.x_train, ds.x_test


def test_a_square_has_its_outline_as_sketch():
    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, 8:20, 8:20] = 1.0
    for method in translation.EDGE_METHODS:
        edges = translation.sketches(image, method=method)[0, ..., 0]
        assert edges.shape == (28, 28) and set(np.unique(edges)) <= {0.0, 1.0}
        assert edges[14, 14] == 0 and edges[2, 2] == 0  # inside and far outside: no edge
        assert edges[8:20, 7:9].mean() > 0.5 or edges[8:20, 19:21].mean() > 0.5  # a side


def test_sketches_of_garments_are_sparse_and_deterministic(garments):
    x, _ = garments
    for method in translation.EDGE_METHODS:
        s = translation.sketches(x[:16], method=method)
        assert s.shape == x[:16].shape
        assert 0.03 < s.mean() < 0.5, (method, s.mean())
        np.testing.assert_array_equal(s, translation.sketches(x[:16], method=method))


def test_bad_sketch_arguments_are_named():
    x = np.zeros((2, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match="method must be one of 'sobel', 'canny'"):
        translation.sketches(x, method="laplace")
    with pytest.raises(ValueError, match="channel"):
        translation.sketches(np.zeros((2, 28, 28, 3), "float32"))
    with pytest.raises(ValueError, match="threshold"):
        translation.sketches(x, threshold=1.5)


def test_night_is_darker_flatter_noisier_and_dim_at_the_corners(garments):
    x, _ = garments
    clean = translation.night(x, noise=0.0)
    noisy = translation.night(x, seed=1)
    assert clean.mean() < 0.5 * x.mean() + 0.05
    assert clean.std() < 0.6 * x.std()
    # the noise is the only difference, about 0.04 before clipping
    assert 0.02 < np.std(noisy - clean) < 0.05
    np.testing.assert_array_equal(noisy, translation.night(x, seed=1))
    white = translation.night(np.ones((1, 28, 28, 1), "float32"), noise=0.0)[0, ..., 0]
    assert white[14, 14] > white[0, 0] + 0.2  # the vignette dims the corners
    with pytest.raises(ValueError, match="vignette"):
        translation.night(x, vignette=2.0)


def test_unet_and_patch_discriminator_shapes():
    g = translation.unet_generator(28, width=8)
    out = np.asarray(g(np.zeros((2, 28, 28, 1), "float32")))
    assert out.shape == (2, 28, 28, 1) and out.min() >= 0 and out.max() <= 1
    d = translation.patch_discriminator(28, width=8)
    assert [tuple(i.shape) for i in d.inputs] == [(None, 28, 28, 1), (None, 28, 28, 1)]
    assert np.asarray(d([out, out])).shape == (2, 7, 7, 1)
    plain = translation.patch_discriminator(28, condition_channels=0, width=8)
    assert len(plain.inputs) == 1 and np.asarray(plain(out)).shape == (2, 7, 7, 1)
    # the condition adds exactly one input channel to the first convolution: 4*4*8 weights
    assert d.count_params() - plain.count_params() == 4 * 4 * 8
    with pytest.raises(ValueError, match="multiple of 4"):
        translation.unet_generator(30)


def test_each_patch_output_sees_an_18_pixel_patch():
    d = translation.patch_discriminator(28, condition_channels=0, width=4)
    x = tf.Variable(np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).astype("float32"))
    with tf.GradientTape() as tape:
        centre = d(x, training=False)[0, 3, 3, 0]
    grad = np.abs(tape.gradient(centre, x).numpy()[0, ..., 0])
    rows, cols = np.nonzero(grad.sum(1))[0], np.nonzero(grad.sum(0))[0]
    assert rows.max() - rows.min() + 1 <= 18 and cols.max() - cols.min() + 1 <= 18
    assert rows.max() - rows.min() + 1 >= 14  # and it does see more than a small window


def test_pix2pix_loss_weights_the_l1_term_against_the_target():
    target = np.ones((2, 4, 4, 1), "float32")
    fake = np.full((2, 4, 4, 1), 0.75, "float32")
    p = np.full((2, 2, 2, 1), 0.5, "float32")
    total, adversarial, l1 = (float(v) for v in
                              translation.pix2pix_generator_loss(p, fake, target, 10.0))
    assert l1 == pytest.approx(0.25) and adversarial == pytest.approx(np.log(2), rel=1e-4)
    assert total == pytest.approx(adversarial + 10 * 0.25, rel=1e-5)
    with pytest.raises(ValueError, match="l1_weight"):
        translation.pix2pix_generator_loss(p, fake, target, -1.0)


def test_cycle_and_identity_losses_are_mean_absolute_errors():
    a = np.zeros((1, 4, 4, 1), "float32")
    b = np.full((1, 4, 4, 1), 0.5, "float32")
    assert float(translation.cycle_loss(a, b)) == pytest.approx(0.5)
    assert float(translation.identity_loss(b, b)) == 0.0


def _fit(model, pairs, steps, batch=32):
    ds = tf.data.Dataset.from_tensor_slices(pairs).repeat().batch(batch)
    return model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False).history


def test_pix2pix_learns_garments_from_sketches(garments):
    x, x_test = garments
    s, s_test = translation.sketches(x), translation.sketches(x_test)
    set_seed(0)
    g = translation.unet_generator(28, width=8)
    # the best constant answer under L1: the per-pixel median of the training garments
    median = float(np.mean(np.abs(np.median(x, 0, keepdims=True) - x_test)))
    model = translation.Pix2Pix(g, translation.patch_discriminator(28, width=8))
    model.compile(g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                  d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    logs = _fit(model, (s, x), steps=80)
    assert set(logs) == {"g_loss", "l1", "d_loss", "d_real", "d_fake"}
    after = float(np.mean(np.abs(g.predict(s_test, verbose=0) - x_test)))
    # held-out sketches: 80 steps beat the median garment by a quarter
    assert after < 0.75 * median, (median, after)
    with pytest.raises(ValueError, match="d_optimizer"):
        translation.Pix2Pix(g, translation.patch_discriminator(28, width=8)).compile(
            g_optimizer=keras.optimizers.Adam())


def test_pix2pix_without_discriminator_trains_only_the_generator(garments):
    x, _ = garments
    set_seed(0)
    model = translation.Pix2Pix(translation.unet_generator(28, width=8), discriminator=None)
    model.compile(g_optimizer=keras.optimizers.Adam(2e-3))
    logs = _fit(model, (translation.sketches(x), x), steps=5)
    assert set(logs) == {"g_loss", "l1"}


def test_cyclegan_step_updates_all_four_networks_and_its_cycle_loss_falls(garments):
    x, _ = garments
    day, night = x[:128], translation.night(x[128:])  # different garments: no pairs
    set_seed(0)
    nets = [translation.unet_generator(28, width=8, name="g_ab"),
            translation.unet_generator(28, width=8, name="g_ba"),
            translation.patch_discriminator(28, condition_channels=0, width=8, name="d_a"),
            translation.patch_discriminator(28, condition_channels=0, width=8, name="d_b")]
    before = [[w.numpy().copy() for w in n.trainable_weights] for n in nets]
    model = translation.CycleGAN(*nets)
    model.compile(g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                  d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    first = _fit(model, (day, night), steps=1)["cycle"][0]
    for net, old in zip(nets, before):
        assert any(not np.allclose(w.numpy(), o) for w, o in zip(net.trainable_weights, old)), \
            net.name
    last = _fit(model, (day, night), steps=40)["cycle"][0]
    assert last < 0.7 * first, (first, last)
    with pytest.raises(ValueError, match="cycle_weight"):
        translation.CycleGAN(*nets, cycle_weight=-1)


def test_datasets_pair_what_matches_and_name_what_does_not():
    x = np.random.default_rng(0).uniform(size=(10, 28, 28, 1)).astype("float32")
    sketches, images = next(iter(translation.paired_dataset(x, x, batch_size=4)))
    np.testing.assert_array_equal(sketches.numpy(), images.numpy())  # pairs stay together
    a, b = next(iter(translation.unpaired_dataset(x, x, batch_size=4)))
    assert a.shape == b.shape == (4, 28, 28, 1)
    assert not np.array_equal(a.numpy(), b.numpy())  # each domain shuffled on its own
    with pytest.raises(ValueError, match="conditions and targets must have the same shape"):
        translation.paired_dataset(x, x[:5], batch_size=4)
    with pytest.raises(ValueError, match="conditions and targets must have the same shape"):
        translation.paired_dataset(x, np.zeros((10, 14, 14, 1), "float32"), batch_size=4)
    with pytest.raises(ValueError, match="a and b must have the same image shape"):
        translation.unpaired_dataset(x, np.zeros((10, 28, 28, 3), "float32"), batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        translation.paired_dataset(x, x, batch_size=0)
