"""The GAN building blocks: reference sizes, DCGAN shapes, the two-phase train_step, SampleGrid."""

import os

import keras
import numpy as np
import pytest

import cvbook
from cvbook import gan


def test_reference_gan_matches_the_course_outline():
    g, d = gan.mlp_generator(100, (28, 28, 1)), gan.mlp_discriminator((28, 28, 1))
    # by hand: Dense(100 -> 128) + Dense(128 -> 784); Dense(784 -> 128) + Dense(128 -> 1)
    assert g.count_params() == (100 * 128 + 128) + (128 * 784 + 784)
    assert d.count_params() == (784 * 128 + 128) + (128 + 1)
    out = np.asarray(g(np.random.default_rng(0).normal(size=(3, 100))))
    assert out.shape == (3, 28, 28, 1) and out.min() >= 0 and out.max() <= 1
    p = np.asarray(d(out))
    assert p.shape == (3, 1) and np.all((p > 0) & (p < 1))


@pytest.mark.parametrize("size", [16, 28, 32])
def test_dcgan_shapes(size):
    g = gan.dcgan_generator(8, size, width=8)
    d = gan.dcgan_discriminator((size, size, 1), width=8)
    img = np.asarray(g(np.zeros((2, 8), "float32")))
    assert img.shape == (2, size, size, 1)
    assert np.asarray(d(img)).shape == (2, 1)


def test_dcgan_rejects_sizes_it_cannot_make():
    with pytest.raises(ValueError, match="multiple of 4"):
        gan.dcgan_generator(8, 30)


def _weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def _moved(model, before):
    return any(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))


@pytest.mark.parametrize("frozen", ["discriminator", "generator"])
def test_each_phase_updates_only_its_own_network(frozen):
    """With one optimizer's learning rate at 0, only the other network may change."""
    cvbook.set_seed(0)
    model = gan.GAN(gan.dcgan_generator(8, 16, width=8),
                    gan.dcgan_discriminator((16, 16, 1), width=8), 8)
    lr = {k: (0.0 if k == frozen else 1e-2) for k in ("discriminator", "generator")}
    model.compile(d_optimizer=keras.optimizers.SGD(lr["discriminator"]),
                  g_optimizer=keras.optimizers.SGD(lr["generator"]))
    g0, d0 = _weights(model.generator), _weights(model.discriminator)
    hist = model.fit(np.random.default_rng(0).random((32, 16, 16, 1)), epochs=1, batch_size=16,
                     verbose=0)
    assert set(hist.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v[0]) for v in hist.history.values())
    assert _moved(model.discriminator, d0) == (frozen != "discriminator")
    assert _moved(model.generator, g0) == (frozen != "generator")


def test_label_smoothing_raises_the_discriminator_loss_on_confident_reals():
    cvbook.set_seed(0)
    losses = {}
    for smoothing in (0.0, 0.2):
        model = gan.GAN(gan.mlp_generator(4, (4, 4, 1), hidden=4),
                        gan.mlp_discriminator((4, 4, 1), hidden=4), 4, label_smoothing=smoothing)
        model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
        model.discriminator.layers[-1].bias.assign([8.0])  # says "real" to everything
        losses[smoothing] = model.fit(np.ones((8, 4, 4, 1)), epochs=1, batch_size=8,
                                      verbose=0).history["d_loss"][0]
    assert losses[0.2] > losses[0.0]


def test_sample_grid_keeps_and_saves_one_grid_per_epoch(tmp_path):
    cvbook.set_seed(0)
    model = gan.GAN(gan.dcgan_generator(8, 16, width=8),
                    gan.dcgan_discriminator((16, 16, 1), width=8), 8)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    grid = gan.SampleGrid(8, n=4, directory=str(tmp_path))
    model.fit(np.random.default_rng(0).random((16, 16, 16, 1)), epochs=3, batch_size=8,
              callbacks=[grid], verbose=0)
    assert sorted(grid.grids) == [1, 2, 3]
    assert grid.grids[3].shape == (4, 16, 16, 1)
    assert not np.allclose(grid.grids[1], grid.grids[3])  # same noise, trained generator
    assert sorted(os.listdir(tmp_path)) == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    assert model.sample(5).shape == (5, 16, 16, 1)


def test_conditional_gan_networks_take_a_label():
    g = gan.conditional_generator(16, 10, 28, width=8, embed_dim=4)
    d = gan.conditional_discriminator(10, 28, width=8)
    noise = np.zeros((3, 16), "float32")
    labels = np.array([0, 4, 9])
    images = np.asarray(g([noise, labels]))
    assert images.shape == (3, 28, 28, 1) and images.min() >= 0 and images.max() <= 1
    assert np.asarray(d([images, labels])).shape == (3, 1)
    # the label changes the image: same noise, two classes
    a, b = (np.asarray(g([noise[:1], np.array([c])])) for c in (0, 9))
    assert not np.allclose(a, b)
    wrapped = [l for l in d.layers if isinstance(l, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two convolutions and the dense score
    plain = gan.conditional_discriminator(10, 28, width=8, spectral_norm=False)
    assert not any(isinstance(l, keras.layers.SpectralNormalization) for l in plain.layers)
    with pytest.raises(ValueError, match="multiple of 4"):
        gan.conditional_generator(16, 10, 30)
    model = gan.ConditionalGAN(g, d, 16, 10)
    model.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match=r"y \(the labels\) must be class indices in 0..9"):
        model.fit(np.zeros((4, 28, 28, 1), "float32"), np.array([0, 1, 2, 10]), verbose=0)
    with pytest.raises(ValueError, match="one label per image"):
        model.fit(np.zeros((4, 28, 28, 1), "float32"), np.array([0, 1]), verbose=0)


def test_conditional_gan_learns_to_draw_the_class_it_is_asked_for():
    import tensorflow as tf

    from cvbook import data, metrics
    from cvbook.seed import set_seed

    ds = data.load("fashion_mnist", n_train=20000, n_test=10, seed=0)
    set_seed(0)
    model = gan.ConditionalGAN(gan.conditional_generator(64, 10, 28, width=16),
                               gan.conditional_discriminator(10, 28, width=16), 64, 10)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    batches = (tf.data.Dataset.from_tensor_slices((ds.x_train, ds.y_train))
               .shuffle(20000, seed=0).repeat().batch(64))
    logs = model.fit(batches, steps_per_epoch=200, epochs=1, verbose=0, shuffle=False).history
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    labels = np.repeat(np.arange(10), 50)
    agreement = metrics.reference_scorer().accuracy(model.sample(labels), labels)
    # the scorer's classifier finds the requested class in most samples: chance is 0.1
    assert agreement > 0.4, agreement
    with pytest.raises(ValueError, match="labels must be class indices in 0..9"):
        model.sample([3, 10])
    # the generator alone (a loaded checkpoint) samples the same images from the same seed
    np.testing.assert_allclose(gan.conditional_samples(model.generator, labels[:20], seed=2),
                               model.sample(labels[:20], seed=2), atol=1e-6)
    with pytest.raises(ValueError, match="labels must be class indices in 0..9"):
        gan.conditional_samples(model.generator, [-1])
