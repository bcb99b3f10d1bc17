"""The GAN lab ("diagnose and fix a GAN"): its checks accept the fixes and reject the planted
bugs and the classic wrong fixes, each with a hint that names it; the training helper reports
who is winning."""


import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from cvbook import gan
from cvbook.checks import gans as checks
from cvbook.metrics import Score

LATENT, SIZE = 8, 16
bce = keras.losses.BinaryCrossentropy()
REAL = np.random.default_rng(0).random((8, SIZE, SIZE, 1)).astype("float32")


def generator(latent_dim, image_size, last="sigmoid"):
    s = image_size // 4
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(s * s * 16), layers.LeakyReLU(0.2), layers.Reshape((s, s, 16)),
        layers.Conv2DTranspose(8, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation=last),
    ])


def discriminator(image_size):
    return keras.Sequential([
        keras.Input(shape=(image_size, image_size, 1)),
        layers.Conv2D(16, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(1, activation="sigmoid"),
    ])


def d_loss_ok(p_real, p_fake):
    return bce(keras.ops.ones_like(p_real), p_real) + bce(keras.ops.zeros_like(p_fake), p_fake)


def g_loss_ok(p_fake):
    return bce(keras.ops.ones_like(p_fake), p_fake)


def g_loss_minimax(p_fake):  # the lab's planted bug
    return -bce(keras.ops.zeros_like(p_fake), p_fake)


def step(real, g, d, d_opt, g_opt, latent_dim, g_loss=g_loss_ok, cheat=False):
    n = tf.shape(real)[0]
    fake = g(tf.random.normal((n, latent_dim)), training=True)
    with tf.GradientTape() as tape:
        d_loss = d_loss_ok(d(real, training=True), d(fake, training=True))
    d_opt.apply(tape.gradient(d_loss, d.trainable_variables), d.trainable_variables)
    with tf.GradientTape() as tape:
        loss = g_loss(d(g(tf.random.normal((n, latent_dim)), training=True), training=True))
    variables = g.trainable_variables + (d.trainable_variables if cheat else [])
    g_opt.apply(tape.gradient(loss, variables), variables)
    return d_loss, loss


def norm(g, d, loss_fn, noise, variables="g", root=True, per_variable=False):
    with tf.GradientTape() as tape:
        loss = loss_fn(d(g(noise)))
    chosen = {"g": g.trainable_variables, "d": d.trainable_variables}[variables]
    grads = tape.gradient(loss, chosen)
    if per_variable:
        return float(sum(tf.norm(x) for x in grads))
    value = float(tf.linalg.global_norm(grads))
    return value if root else value ** 2


def score(frechet, coverage=0.8):
    return Score(frechet=frechet, kid=frechet / 50, coverage=coverage, balance=0.5,
                 confidence=0.5, n=10)


def run(d_real=0.7, d_fake=0.3):
    return gan.StepRun(generator=None, discriminator=None, d_real=d_real, d_fake=d_fake)


def test_the_fixes_pass(capsys):
    checks.check_gradient_norm(norm)
    checks.check_generator_loss(g_loss_ok)
    checks.check_generator(generator, LATENT, SIZE)
    checks.check_train_step(step, generator, discriminator, LATENT, REAL)
    checks.check_fixed(score(260, 0.1), score(75), run())
    assert capsys.readouterr().out.count("\u2713") == 5


@pytest.mark.parametrize("answer, hint", [
    (lambda *a: None, "still a TODO"),
    (lambda g, d, f, z: norm(g, d, f, z, variables="d"), "norm of the discriminator's"),
    (lambda g, d, f, z: norm(g, d, f, z, root=False), "squared norm"),
    (lambda g, d, f, z: norm(g, d, f, z, per_variable=True), "sum of each variable's norm"),
    (lambda g, d, f, z: float(f(d(g(z)))), "That is the loss itself"),
])
def test_gradient_norm_mistakes(answer, hint, rejects):
    rejects(lambda: checks.check_gradient_norm(answer), hint)


@pytest.mark.parametrize("loss, hint", [
    (g_loss_minimax, "that is the minimax form"),
    (lambda f: bce(keras.ops.zeros_like(f), f), "make its fakes look fake"),
    (lambda f: float(np.mean(-np.log(np.asarray(f)))), "gives no gradient"),
    (lambda f: None, "still a TODO"),
])
def test_generator_loss_mistakes(loss, hint, rejects):
    rejects(lambda: checks.check_generator_loss(loss), hint)


def test_any_non_saturating_form_passes():
    checks.check_generator_loss(lambda f: -keras.ops.mean(keras.ops.log(f)))


@pytest.mark.parametrize("make, hint", [
    (lambda latent, size: generator(latent, size, last="tanh"), "makes values in [-1, 1]"),
    (lambda latent, size: generator(latent, size, last="linear"), "Generated pixels go down"),
    (lambda latent, size: generator(latent, size + 4), "expected (16, 16, 1)"),
])
def test_generator_mistakes(make, hint, rejects):
    rejects(lambda: checks.check_generator(make, LATENT, SIZE), hint)


@pytest.mark.parametrize("wrong, hint", [
    (lambda *a: step(*a, cheat=True), "also updates the discriminator"),
    (lambda *a: step(*a, g_loss=g_loss_minimax), "still call broken_generator_loss"),
    (lambda *a: None, "still a TODO"),
])
def test_train_step_mistakes(wrong, hint, rejects):
    rejects(lambda: checks.check_train_step(wrong, generator, discriminator, LATENT, REAL), hint)


@pytest.mark.parametrize("fixed_score, fixed_run, hint", [
    (score(150), run(), "should at least halve it"),
    (score(75, coverage=0.3), run(), "collapses onto a few kinds"),
    (score(75), run(d_real=0.5, d_fake=0.8), "still trained in the generator's phase"),
])
def test_fixed_gan_that_is_not_fixed_is_rejected(fixed_score, fixed_run, hint, rejects):
    rejects(lambda: checks.check_fixed(score(260, 0.1), fixed_score, fixed_run), hint)


def test_train_with_step_trains_with_the_learners_step_and_reports_the_verdicts(capsys):
    images = np.random.default_rng(1).random((32, SIZE, SIZE, 1)).astype("float32")
    calls = []

    def counting_step(*args):
        calls.append(1)
        return step(*args)

    result = gan.train_with_step(counting_step, generator, discriminator, LATENT, images,
                                 steps=5, batch_size=8)
    assert result.generator.output_shape == (None, SIZE, SIZE, 1)
    assert calls  # traced through the learner's function
    assert 0 < result.d_fake < 1 and 0 < result.d_real < 1
    untrained = (keras.utils.set_random_seed(0), generator(LATENT, SIZE))[1]
    assert any(not np.array_equal(a, b) for a, b in
               zip(result.generator.get_weights(), untrained.get_weights()))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("step 1/5  d_real") and "fake_min" in lines[-1]


def test_confident_discriminator_is_sure_the_untrained_fakes_are_fake():
    images = np.clip(np.random.default_rng(1).normal(0.95, 0.02, (64, SIZE, SIZE, 1)), 0, 1)
    g, d = gan.confident_discriminator(generator, discriminator, LATENT,
                                       images.astype("float32"), steps=300, batch_size=16)
    noise = np.random.default_rng(2).normal(size=(32, LATENT)).astype("float32")
    assert float(np.mean(d(g(noise)))) < 0.1
    assert float(np.mean(d(images[:32]))) > 0.9
