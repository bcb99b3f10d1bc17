"""Checks for the GAN lab, "diagnose and fix a GAN": each fix is checked by what it does (a
gradient, a pixel range, which weights each optimizer moves, a training run), not by its text."""

from __future__ import annotations

import numpy as np

from . import expect, guarded, passed, require


def _small_networks(latent_dim: int = 8, image_size: int = 16, seed: int = 0):
    """A tiny generator and discriminator of the lab's shape, with fixed weights."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    s = image_size // 4
    g = keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(s * s * 16), layers.LeakyReLU(0.2), layers.Reshape((s, s, 16)),
        layers.Conv2DTranspose(8, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid"),
    ])
    d = keras.Sequential([
        keras.Input(shape=(image_size, image_size, 1)),
        layers.Conv2D(8, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(1, activation="sigmoid"),
    ])
    return g, d


def _non_saturating(p_fake):
    from ..gan import generator_loss

    return generator_loss(p_fake)


def _norms(g, d, loss_fn, noise):
    """The candidate answers: the right one and the classic mistakes, by name."""
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        loss = loss_fn(d(g(noise, training=True), training=True))
    g_grads = tape.gradient(loss, g.trainable_variables)
    d_grads = tape.gradient(loss, d.trainable_variables)
    return {
        "right": float(tf.linalg.global_norm(g_grads)),
        "discriminator": float(tf.linalg.global_norm(d_grads)),
        "both": float(tf.linalg.global_norm(g_grads + d_grads)),
        "summed": float(sum(tf.norm(x) for x in g_grads)),
        "squared": float(tf.linalg.global_norm(g_grads)) ** 2,
        "loss": float(loss),
    }


@guarded
def check_gradient_norm(generator_gradient_norm) -> None:
    """The global norm of the generator's gradient, through the discriminator."""
    require(generator_gradient_norm, "generator_gradient_norm")
    g, d = _small_networks()
    noise = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")
    got = require(generator_gradient_norm(g, d, _non_saturating, noise),
                  "generator_gradient_norm(...)")
    got = float(np.asarray(got))
    want = _norms(g, d, _non_saturating, noise)
    close = [name for name, value in want.items() if np.isclose(got, value, rtol=1e-3)]
    hints = {
        "discriminator": "That is the norm of the discriminator's gradient. The generator "
                         "learns from the gradient of the loss with respect to "
                         "generator.trainable_variables.",
        "both": "That norm counts the discriminator's variables too; take the generator's "
                "only.",
        "summed": "That is the sum of each variable's norm. The global norm is the square root "
                  "of the sum of squares over all variables: tf.linalg.global_norm(grads).",
        "squared": "That is the squared norm: take the square root (tf.linalg.global_norm "
                   "does).",
        "loss": "That is the loss itself. Record the forward pass under a tf.GradientTape, "
                "then take tape.gradient(loss, generator.trainable_variables).",
    }
    expect("right" in close or not close, hints.get(close[0], "") if close else "")
    expect("right" in close,
           f"generator_gradient_norm gave {got:.5g}; the global norm of the generator's "
           f"gradient is {want['right']:.5g}. Under one tape: fakes = generator(noise), "
           f"loss = loss_fn(discriminator(fakes)); then the gradient with respect to "
           f"generator.trainable_variables and tf.linalg.global_norm of it.")
    passed(f"gradient norm: {got:.4f} on a test pair of networks, as expected")


def _push(generator_loss, p: float, n: int = 8):
    """The loss at D(fake) = p and its gradient with respect to the discriminator's logits,
    summed over the batch (how hard the generator is pushed)."""
    import tensorflow as tf

    logits = tf.Variable(np.full((n, 1), np.log(p / (1 - p)), "float32"))
    with tf.GradientTape() as tape:
        loss = generator_loss(tf.sigmoid(logits))
    grad = tape.gradient(loss, logits) if tf.is_tensor(loss) else None
    expect(grad is not None, "generator_loss gives no gradient: build it from p_fake with "
           "Keras or TensorFlow operations (keras.ops, bce), not NumPy or float().")
    return float(loss), float(tf.reduce_sum(grad))


@guarded
def check_generator_loss(generator_loss) -> None:
    """It must push the generator up towards "real", hardest where D is sure it is fake."""
    require(generator_loss, "generator_loss")
    require(generator_loss(np.full((4, 1), 0.5, "float32")), "generator_loss(...)")
    values = {p: _push(generator_loss, p) for p in (0.01, 0.1, 0.5, 0.9)}
    expect(all(np.isfinite(v) for pair in values.values() for v in pair),
           "generator_loss is not finite for probabilities between 0.01 and 0.9.")
    loss_low, push_low = values[0.01]
    expect(values[0.9][0] < values[0.1][0],
           "generator_loss is higher when the discriminator is fooled (D(fake) = 0.9) than "
           "when it is not (0.1): the generator would learn to make its fakes look fake. Its "
           "target is 'real' (1), not 'fake' (0).")
    expect(push_low < 0, "At D(fake) = 0.01 your loss's gradient pushes the discriminator's "
           "opinion of the fakes down, towards 'fake'.")
    expect(abs(push_low) > 0.5,
           f"When the discriminator is sure the fakes are fake (D(fake) = 0.01), your loss "
           f"pushes the generator with a gradient of only {abs(push_low):.3f} (summed over the "
           f"batch, with respect to the discriminator's logits). log(1 - p) is flat near p = 0: "
           f"that is the minimax form. Use -log(p), the 'non-saturating' loss: binary "
           f"cross-entropy with target 1, which pushes hardest exactly there (about 1).")
    passed(f"generator loss: at D(fake) = 0.01 it pushes with {abs(push_low):.2f} "
           f"(the minimax form: 0.01), and it falls as the fakes pass for real")


@guarded
def check_generator(make_generator, latent_dim: int, image_size: int) -> None:
    """Same job as the broken generator, with pixels where the real ones are: [0, 1]."""
    import keras

    require(make_generator, "make_generator")
    g = require(make_generator(latent_dim, image_size), "make_generator(...)")
    expect(isinstance(g, keras.Model), "make_generator should return a keras.Model "
           "(for example keras.Sequential([...])).")
    expect(tuple(g.input_shape[1:]) == (latent_dim,),
           f"The generator takes input {tuple(g.input_shape[1:])}; it should take noise "
           f"vectors of length latent_dim={latent_dim}.")
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(64, latent_dim)).astype("float32")
    out = np.concatenate([np.asarray(g(noise * scale)) for scale in (1.0, 10.0, 100.0)])
    expect(out.shape[1:] == (image_size, image_size, 1),
           f"The generator makes images of shape {out.shape[1:]}; expected "
           f"({image_size}, {image_size}, 1).")
    expect(out.min() >= -1e-6,
           f"Generated pixels go down to {out.min():.2f}, and no real pixel is below 0: the "
           f"discriminator can tell fakes from real images by that alone. Which activation "
           f"of the last layer makes values in [-1, 1]? Choose one whose values are [0, 1], "
           f"like the data.")
    expect(out.max() <= 1 + 1e-6, f"Generated pixels go up to {out.max():.2f}; real ones stop "
           f"at 1.")
    expect(out.std() > 1e-3, "Every generated pixel has the same value: does the noise reach "
           "the output?")
    passed(f"generator: pixels in [{out.min():.2f}, {out.max():.2f}] even for extreme noise, "
           f"like the real images' [0, 1]")


def _spy_optimizer(learning_rate: float = 0.05):
    """An SGD optimizer that records which variables it is asked to update."""
    import keras

    class Spy(keras.optimizers.SGD):
        def __init__(self):
            super().__init__(learning_rate=learning_rate)
            self.updated: list = []

        def apply(self, grads, trainable_variables=None):
            variables = trainable_variables if trainable_variables is not None else \
                self._trainable_variables
            self.updated.append([id(v) for v in variables])
            return super().apply(grads, trainable_variables)

    return Spy()


def _generator_move(train_step, make_generator, make_discriminator, latent_dim, real):
    """How far one step moves the generator when the discriminator is sure every image is
    fake (its last bias set to -6: D(x) is about 0.0025)."""
    import keras

    keras.utils.set_random_seed(1)
    g = make_generator(latent_dim, real.shape[1])
    d = make_discriminator(real.shape[1])
    last = [layer for layer in d.layers if getattr(layer, "bias", None) is not None][-1]
    last.bias.assign(np.full(last.bias.shape, -6.0, "float32"))
    before = [v.numpy().copy() for v in g.trainable_variables]
    train_step(real, g, d, _spy_optimizer(), _spy_optimizer(), latent_dim)
    return float(np.sqrt(sum(np.sum((v.numpy() - b) ** 2)
                             for v, b in zip(g.trainable_variables, before))))


def _reference_step(real, g, d, d_opt, g_opt, latent_dim):
    import tensorflow as tf

    from ..gan import discriminator_loss, generator_loss

    n = tf.shape(real)[0]
    fake = g(tf.random.normal((n, latent_dim)), training=True)
    with tf.GradientTape() as tape:
        p_real, p_fake = d(real, training=True), d(fake, training=True)
        d_loss = discriminator_loss(p_real, p_fake)
    d_opt.apply(tape.gradient(d_loss, d.trainable_variables), d.trainable_variables)
    with tf.GradientTape() as tape:
        p_fake = d(g(tf.random.normal((n, latent_dim)), training=True), training=True)
        g_loss = generator_loss(p_fake)
    g_opt.apply(tape.gradient(g_loss, g.trainable_variables), g.trainable_variables)
    return d_loss, g_loss


@guarded
def check_train_step(train_step, make_generator, make_discriminator, latent_dim: int,
                     real) -> None:
    """Each optimizer updates exactly its own network, and the generator phase uses a loss
    that still pushes when the discriminator is sure."""
    require(train_step, "train_step")
    real = np.asarray(real, dtype="float32")
    g = make_generator(latent_dim, real.shape[1])
    d = make_discriminator(real.shape[1])
    d_opt, g_opt = _spy_optimizer(), _spy_optimizer()
    g_before = [v.numpy().copy() for v in g.trainable_variables]
    d_before = [v.numpy().copy() for v in d.trainable_variables]
    result = require(train_step(real, g, d, d_opt, g_opt, latent_dim), "train_step(...)")
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           "train_step should return the two losses: (d_loss, g_loss).")
    d_loss, g_loss = (float(np.asarray(x)) for x in result)
    expect(np.isfinite(d_loss) and np.isfinite(g_loss), "The losses are not finite numbers.")
    g_ids = {id(v) for v in g.trainable_variables}
    d_ids = {id(v) for v in d.trainable_variables}
    expect(len(d_opt.updated) == 1 and len(g_opt.updated) == 1,
           f"In one step d_optimizer was used {len(d_opt.updated)} times and g_optimizer "
           f"{len(g_opt.updated)} times; each phase should use its own optimizer once.")
    d_seen, g_seen = set(d_opt.updated[0]), set(g_opt.updated[0])
    expect(not g_seen & d_ids,
           "The generator's phase also updates the discriminator: with the generator's loss "
           "it teaches the discriminator to call fakes real. That is why D(fake) climbed "
           "above D(real). Apply the generator's gradients to generator.trainable_variables "
           "only.")
    expect(not d_seen & g_ids,
           "The discriminator's phase also updates the generator's weights. Apply its "
           "gradients to discriminator.trainable_variables only.")
    expect(d_seen == d_ids and g_seen == g_ids,
           "Each phase should update all of its own network's trainable variables.")
    expect(any(not np.array_equal(a, v.numpy()) for a, v in zip(d_before, d.trainable_variables)),
           "The discriminator did not change: are its gradients all zero?")
    expect(any(not np.array_equal(a, v.numpy()) for a, v in zip(g_before, g.trainable_variables)),
           "The generator did not change: does its phase compute the loss from the "
           "discriminator's opinion of freshly generated images, inside the tape?")
    moved = _generator_move(train_step, make_generator, make_discriminator, latent_dim, real)
    should = _generator_move(_reference_step, make_generator, make_discriminator, latent_dim,
                             real)
    expect(moved > 0.1 * should,
           f"Against a discriminator that is sure every fake is fake, one step of your "
           f"train_step moves the generator by {moved:.2g}; with the non-saturating loss it "
           f"moves by {should:.2g}. Does the generator's phase still call "
           f"broken_generator_loss instead of your generator_loss?")
    passed(f"one step: each optimizer updated only its own network, and the generator "
           f"learns even from a sure discriminator (d_loss {d_loss:.3f}, g_loss {g_loss:.3f})")


@guarded
def check_fixed(broken_score, fixed_score, fixed_run, max_ratio: float = 0.5,
                min_coverage: float = 0.6) -> None:
    """The fixed GAN: a far smaller Fréchet distance than the broken one, most classes
    generated, and a discriminator that rates real images above fakes."""
    expect(fixed_score.frechet < max_ratio * broken_score.frechet,
           f"The fixed GAN's Fréchet distance is {fixed_score.frechet:.1f} against "
           f"{broken_score.frechet:.1f} for the broken one; a fixed GAN should at least halve "
           f"it. Are all three fixes in: make_generator, generator_loss and train_step (which "
           f"must call your generator_loss)?")
    expect(fixed_score.coverage >= min_coverage,
           f"The fixed GAN's samples cover only {fixed_score.coverage:.0%} of the classes "
           f"(at least {min_coverage:.0%} expected): it still collapses onto a few kinds of "
           f"garment.")
    expect(fixed_run.d_fake < fixed_run.d_real,
           f"At the end of training the discriminator rates fakes ({fixed_run.d_fake:.2f}) "
           f"at least as real as real images ({fixed_run.d_real:.2f}): is it still trained "
           f"in the generator's phase?")
    passed(f"fixed: Fréchet {broken_score.frechet:.1f} -> {fixed_score.frechet:.1f}, "
           f"coverage {broken_score.coverage:.0%} -> {fixed_score.coverage:.0%}, "
           f"D(real) {fixed_run.d_real:.2f} above D(fake) {fixed_run.d_fake:.2f}")
