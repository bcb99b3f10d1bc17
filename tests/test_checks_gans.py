"""The GAN lab's checks accept the right answers and reject the classic mistakes with a hint."""


import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from cvbook.checks import gans as checks
from cvbook.metrics import Score

LATENT, SIZE = 8, 16
bce = keras.losses.BinaryCrossentropy()


def generator(latent_dim, image_size, up_filters=32, last="sigmoid", strides=2):
    s = image_size // 4
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(s * s * 64), layers.LeakyReLU(0.2), layers.Reshape((s, s, 64)),
        layers.Conv2DTranspose(up_filters, 4, strides=strides, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation=last),
    ])


def discriminator(image_size, pool=False, head=(1, "sigmoid")):
    down = ([layers.Conv2D(32, 4, padding="same"), layers.MaxPooling2D(2)] if pool
            else [layers.Conv2D(32, 4, strides=2, padding="same")])
    return keras.Sequential([
        keras.Input(shape=(image_size, image_size, 1)), *down, layers.LeakyReLU(0.2),
        layers.Conv2D(64, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(head[0], activation=head[1]),
    ])


def d_loss_ok(p_real, p_fake):
    return bce(keras.ops.ones_like(p_real), p_real) + bce(keras.ops.zeros_like(p_fake), p_fake)


def g_loss_ok(p_fake):
    return bce(keras.ops.ones_like(p_fake), p_fake)


def step_ok(real, g, d, d_opt, g_opt, latent_dim, shared_tape=False):
    n = tf.shape(real)[0]
    with tf.GradientTape(persistent=True) as tape:
        fake = g(tf.random.normal((n, latent_dim)), training=True)
        d_loss = d_loss_ok(d(real, training=True), d(fake, training=True))
        g_loss = g_loss_ok(d(fake, training=True))
    if shared_tape:  # the classic bug: both optimizers get every variable
        v = g.trainable_variables + d.trainable_variables
        d_opt.apply_gradients(zip(tape.gradient(d_loss, v), v))
        g_opt.apply_gradients(zip(tape.gradient(g_loss, v), v))
    else:
        dv, gv = d.trainable_variables, g.trainable_variables
        d_opt.apply_gradients(zip(tape.gradient(d_loss, dv), dv))
        g_opt.apply_gradients(zip(tape.gradient(g_loss, gv), gv))
    return d_loss, g_loss


def score(frechet):
    return Score(frechet=frechet, kid=frechet / 50, coverage=0.5, balance=0.5, confidence=0.5, n=10)


def test_right_answers_pass(capsys):
    checks.check_generator(generator, LATENT, SIZE)
    checks.check_discriminator(discriminator, SIZE)
    checks.check_losses(d_loss_ok, g_loss_ok)
    real = np.random.default_rng(0).random((8, SIZE, SIZE, 1)).astype("float32")
    checks.check_train_step(step_ok, generator, discriminator, LATENT, real)
    checks.check_training_improves(score(100), score(30))
    assert capsys.readouterr().out.count("\u2713") == 5



@pytest.mark.parametrize("make, hint", [
    (lambda latent, size: None, "still a TODO"),
    (lambda latent, size: generator(latent, size, last="relu"), "use 'sigmoid'"),
    (lambda latent, size: generator(latent, size, up_filters=16), "the spec says 32"),
    (lambda latent, size: generator(latent, size, strides=1), "strides=2, padding='same'"),
])
def test_generator_mistakes(make, hint, rejects):
    rejects(lambda: checks.check_generator(make, LATENT, SIZE), hint)


@pytest.mark.parametrize("make, hint", [
    (lambda size: discriminator(size, pool=True), "no pooling"),
    (lambda size: discriminator(size, head=(2, "softmax")), "Dense(1, activation='sigmoid')"),
])
def test_discriminator_mistakes(make, hint, rejects):
    rejects(lambda: checks.check_discriminator(make, SIZE), hint)


@pytest.mark.parametrize("d_loss, g_loss, hint", [
    (lambda r, f: d_loss_ok(f, r), g_loss_ok, "labels swapped"),
    (lambda r, f: d_loss_ok(r, f) / 2, g_loss_ok, "use their sum"),
    (d_loss_ok, lambda f: bce(keras.ops.zeros_like(f), f), "target 0"),
    (d_loss_ok, lambda f: -bce(keras.ops.zeros_like(f), f), "saturating"),
    (d_loss_ok, lambda f: None, "generator_loss(...)` is still a TODO"),
])
def test_loss_mistakes(d_loss, g_loss, hint, rejects):
    rejects(lambda: checks.check_losses(d_loss, g_loss), hint)


def test_train_step_that_updates_everything_is_rejected(rejects):
    real = np.random.default_rng(0).random((8, SIZE, SIZE, 1)).astype("float32")
    wrong = lambda *args: step_ok(*args, shared_tape=True)
    rejects(lambda: checks.check_train_step(wrong, generator, discriminator, LATENT, real),
             "also updated generator weights")
    rejects(lambda: checks.check_train_step(lambda *a: None, generator, discriminator, LATENT,
                                             real), "still a TODO")


def test_training_that_does_not_improve_is_rejected(rejects):
    rejects(lambda: checks.check_training_improves(score(100),
                                                    score(60)),
             "100.0 to 60.0")


def test_train_with_step_trains_fresh_networks_with_the_learners_step():
    from cvbook import gan

    images = np.random.default_rng(1).random((32, SIZE, SIZE, 1)).astype("float32")
    calls = []

    def counting_step(*args):
        calls.append(1)
        return step_ok(*args)

    g = gan.train_with_step(counting_step, generator, discriminator, LATENT, images, steps=3,
                            batch_size=8)
    assert g.output_shape == (None, SIZE, SIZE, 1)
    assert calls  # traced through the learner's function
    untrained = (keras.utils.set_random_seed(0), generator(LATENT, SIZE))[1]
    assert any(not np.array_equal(a, b) for a, b in zip(g.get_weights(), untrained.get_weights()))
