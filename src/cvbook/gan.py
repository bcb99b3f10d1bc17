"""GAN building blocks shared by the GAN chapter, its lab and the diffusion chapter.

The chapters print these with :func:`cvbook.plots.show_source`, so read them there.
All generators end in a sigmoid: they make images in [0, 1], like ``cvbook.data``. All
discriminators end in a sigmoid too: they output the probability that an image is real.
Importing this module imports Keras (unlike ``import cvbook``).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import args, models


def mlp_generator(latent_dim: int = 100, image_shape=(28, 28, 1), hidden: int = 128):
    """The reference generator: noise > Dense(hidden, relu) > Dense(H*W*C, sigmoid) > image."""
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(int(np.prod(image_shape)), activation="sigmoid"),
        layers.Reshape(image_shape),
    ], name="mlp_generator")


def mlp_discriminator(image_shape=(28, 28, 1), hidden: int = 128):
    """The reference discriminator: image > Flatten > Dense(hidden, leaky ReLU) >
    Dense(1, sigmoid)."""
    return keras.Sequential([
        keras.Input(shape=image_shape),
        layers.Flatten(),
        layers.Dense(hidden),
        layers.LeakyReLU(0.2),
        layers.Dense(1, activation="sigmoid"),
    ], name="mlp_discriminator")


def dcgan_generator(latent_dim: int = 64, image_size: int = 28, channels: int = 1,
                    width: int = 32):
    """DCGAN generator: Dense to a (size/4)^2 grid, then two stride-2 Conv2DTranspose upsamplings.

    Batch norm and leaky ReLU between layers, sigmoid at the end. ``image_size`` must be a
    multiple of 4 (16, 28, 32...).
    """
    args.positive_ints(latent_dim=latent_dim, image_size=image_size, channels=channels, width=width)
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
    s = image_size // 4
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(s * s * 2 * width, use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(0.2),
        layers.Reshape((s, s, 2 * width)),
        layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="sigmoid"),
    ], name="dcgan_generator")


def dcgan_discriminator(image_shape=(28, 28, 1), width: int = 32, dropout: float = 0.3):
    """DCGAN discriminator: two stride-2 convolutions (no pooling) with leaky ReLU, then
    Dense(1)."""
    return keras.Sequential([
        keras.Input(shape=image_shape),
        layers.Conv2D(width, 4, strides=2, padding="same"),
        layers.LeakyReLU(0.2),
        layers.Conv2D(2 * width, 4, strides=2, padding="same"),
        layers.LeakyReLU(0.2),
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Dense(1, activation="sigmoid"),
    ], name="dcgan_discriminator")


def discriminator_loss(p_real, p_fake, label_smoothing: float = 0.0):
    """The discriminator's binary cross-entropy: real images -> 1 (``1 - label_smoothing``),
    fakes -> 0. ``p_real``, ``p_fake``: its probabilities that each image is real."""
    bce = keras.losses.BinaryCrossentropy()
    return (bce(keras.ops.ones_like(p_real) * (1.0 - label_smoothing), p_real)
            + bce(keras.ops.zeros_like(p_fake), p_fake))


def generator_loss(p_fake):
    """The generator's non-saturating loss: fakes labelled "real" (1), that is -log D(G(z)),
    which still pushes when the discriminator is sure (D(G(z)) near 0)."""
    return keras.losses.BinaryCrossentropy()(keras.ops.ones_like(p_fake), p_fake)


class GAN(keras.Model):
    """A GAN as one ``keras.Model`` with a custom ``train_step``: ``gan.fit(images)`` trains it.

    Each step has two phases, each with its own optimizer and its own list of variables:

    1. discriminator: real images labelled 1 (or ``1 - label_smoothing``), fakes labelled 0;
    2. generator: fresh fakes labelled 1 ("real"): the generator improves by fooling the
       discriminator. Only the generator's variables get gradients in this phase.

    No ``trainable`` flag is toggled anywhere: each phase *chooses* which variables it updates.
    """

    def __init__(self, generator, discriminator, latent_dim: int, label_smoothing: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.seed = keras.random.SeedGenerator(1337)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "d_real", "d_fake")}

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` generated images as a NumPy array (fixed ``seed``: the same noise every time)."""
        n, seed = args.integer(n, "n", 1), args.integer(seed, "seed", 0)
        noise = np.random.default_rng(seed).normal(size=(n, self.latent_dim)).astype("float32")
        return self.generator.predict(noise, verbose=0, batch_size=256)

    def train_step(self, real):
        if isinstance(real, tuple):  # fit(x, y) passes (x, y); the labels are not used
            real = real[0]
        n = keras.ops.shape(real)[0]

        # 1. the discriminator learns: real -> 1 (smoothed), fake -> 0
        noise = keras.random.normal((n, self.latent_dim), seed=self.seed)
        fake = self.generator(noise, training=True)
        with tf.GradientTape() as tape:
            p_real = self.discriminator(real, training=True)
            p_fake = self.discriminator(fake, training=True)
            d_loss = discriminator_loss(p_real, p_fake, self.label_smoothing)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

        # 2. the generator learns: make the discriminator say "real" (1) on fresh fakes
        noise = keras.random.normal((n, self.latent_dim), seed=self.seed)
        with tf.GradientTape() as tape:
            p_fooled = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = generator_loss(p_fooled)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))

        for name, value in (("d_loss", d_loss), ("g_loss", g_loss),
                            ("d_real", keras.ops.mean(p_real)),
                            ("d_fake", keras.ops.mean(p_fake))):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}


@dataclass
class StepRun:
    """What :func:`train_with_step` returns: the trained generator and the discriminator's
    mean opinion of real images and of fakes (probability "real") over the last 20% of the
    steps, the numbers that show who is winning."""

    generator: keras.Model
    discriminator: keras.Model
    d_real: float
    d_fake: float


def train_with_step(train_step, make_generator, make_discriminator, latent_dim: int, images,
                    steps: int, batch_size: int, learning_rate: float = 5e-4,
                    seed: int = 0) -> StepRun:
    """Train fresh networks for ``steps`` steps with a hand-written ``train_step``.

    ``train_step(real, g, d, d_opt, g_opt, latent_dim)`` is the function the GAN lab asks for
    (it returns the two losses). Each step draws a random batch of ``images``. Five progress
    lines show what diagnoses a GAN: the discriminator's mean probability "real" on the batch's
    real images (``d_real``) and on fresh fakes (``d_fake``), and the fakes' pixel range.
    """
    from .seed import set_seed

    steps, batch_size = args.integer(steps, "steps", 1), args.integer(batch_size, "batch_size", 1)
    set_seed(seed)
    g = make_generator(latent_dim, images.shape[1])
    d = make_discriminator(images.shape[1])
    d_opt = keras.optimizers.Adam(learning_rate, beta_1=0.5)
    g_opt = keras.optimizers.Adam(learning_rate, beta_1=0.5)
    step_fn = tf.function(lambda real: train_step(real, g, d, d_opt, g_opt, latent_dim))

    @tf.function
    def probe(real):
        fake = g(tf.random.normal((tf.shape(real)[0], latent_dim)))
        return (tf.reduce_mean(d(real)), tf.reduce_mean(d(fake)), tf.reduce_min(fake),
                tf.reduce_max(fake))

    rng = np.random.default_rng(seed)
    log = models.step_log(steps, lines=5)
    opinions = []
    for i in range(steps):
        real = tf.constant(images[rng.integers(0, len(images), batch_size)])
        step_fn(real)
        d_real, d_fake, low, high = (float(v) for v in probe(real))
        opinions.append((d_real, d_fake))
        log(i + 1, d_real=d_real, d_fake=d_fake, fake_min=low, fake_max=high)
    last = np.mean(opinions[-max(1, steps // 5):], axis=0)
    return StepRun(g, d, float(last[0]), float(last[1]))


def confident_discriminator(make_generator, make_discriminator, latent_dim: int, images,
                            steps: int = 60, batch_size: int = 64, seed: int = 0):
    """An untrained generator and a discriminator trained for ``steps`` steps to tell its
    fakes from ``images``: the situation early in GAN training, when the discriminator wins
    easily. Returns ``(generator, discriminator)``."""
    from .seed import set_seed

    set_seed(seed)
    g = make_generator(latent_dim, images.shape[1])
    d = make_discriminator(images.shape[1])
    opt = keras.optimizers.Adam(5e-4, beta_1=0.5)

    @tf.function
    def step(real):
        fake = g(tf.random.normal((tf.shape(real)[0], latent_dim)))
        with tf.GradientTape() as tape:
            p_real, p_fake = d(real, training=True), d(fake, training=True)
            loss = discriminator_loss(p_real, p_fake)
        opt.apply(tape.gradient(loss, d.trainable_variables), d.trainable_variables)

    rng = np.random.default_rng(seed)
    for _ in range(args.integer(steps, "steps", 1)):
        step(tf.constant(images[rng.integers(0, len(images), batch_size)]))
    return g, d


class SampleGrid(keras.callbacks.Callback):
    """Keras callback: after every epoch, generate images from the *same* fixed noise.

    The grids are kept in ``self.grids`` (epoch -> images) and, when ``directory`` is given,
    saved there as ``epoch_XXX.png``. Fixed noise means the pictures differ only because the
    generator changed. ``show()`` plots one row per chosen epoch.
    """

    def __init__(self, latent_dim: int, n: int = 8, seed: int = 0, directory: str | None = None):
        super().__init__()
        self.noise = np.random.default_rng(seed).normal(size=(n, latent_dim)).astype("float32")
        self.directory = directory
        self.grids: dict[int, np.ndarray] = {}

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generator.predict(self.noise, verbose=0)
        self.grids[epoch + 1] = images
        if self.directory:
            import os

            import matplotlib.pyplot as plt

            os.makedirs(self.directory, exist_ok=True)
            strip = np.concatenate(list(images[..., 0] if images.shape[-1] == 1 else images), 1)
            plt.imsave(os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png"), strip,
                       cmap="gray", vmin=0, vmax=1)

    def show(self, epochs=None, size: float = 0.9):
        """Plot the grids of ``epochs`` (default: about 5 evenly spaced), one row per epoch."""
        import matplotlib.pyplot as plt

        done = sorted(self.grids)
        if epochs is None:
            picks = np.linspace(0, len(done) - 1, min(5, len(done)))
            epochs = sorted({done[int(i)] for i in picks})
        n = len(self.noise)
        fig, axes = plt.subplots(len(epochs), n, figsize=(size * n, size * len(epochs)),
                                 squeeze=False)
        for row, epoch in zip(axes, epochs):
            for ax, im in zip(row, self.grids[epoch]):
                ax.imshow(im[..., 0] if im.shape[-1] == 1 else im, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
            row[0].set_ylabel(f"epoch {epoch}", fontsize=8)
        fig.suptitle("the same noise, epoch after epoch", fontsize=10)
        fig.tight_layout()
        plt.show()
