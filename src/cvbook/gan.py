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


def conditional_generator(latent_dim: int = 64, num_classes: int = 10, image_size: int = 28,
                          width: int = 32, embed_dim: int = 16):
    """A class-conditional DCGAN generator: ``[noise, label] -> image``.

    The label goes through an ``Embedding`` (a learned vector per class) and is concatenated
    to the noise; the rest is :func:`dcgan_generator`'s body. Same noise, different label:
    the same "style" drawn as another class.
    """
    args.positive_ints(latent_dim=latent_dim, num_classes=num_classes, image_size=image_size,
                       width=width, embed_dim=embed_dim)
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
    s = image_size // 4
    noise = keras.Input((latent_dim,), name="noise")
    label = keras.Input((), dtype="int32", name="label")
    x = layers.Concatenate()([noise, layers.Embedding(num_classes, embed_dim,
                                                      name="label_embedding")(label)])
    x = layers.Dense(s * s * 2 * width, use_bias=False)(x)
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    x = layers.Reshape((s, s, 2 * width))(x)
    x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False)(x)
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    image = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid")(x)
    return keras.Model([noise, label], image, name="conditional_generator")


def conditional_discriminator(num_classes: int = 10, image_size: int = 28, width: int = 32,
                              spectral_norm: bool = True):
    """A class-conditional critic: ``[image, label] -> score`` (a raw score, no sigmoid: the
    hinge loss of :class:`ConditionalGAN` wants one).

    The label is embedded as one extra image channel, so the critic judges "is this a real
    garment *of this class*?". With ``spectral_norm`` every weight layer is wrapped in
    ``keras.layers.SpectralNormalization``: at each training call it divides the kernel by an
    estimate of its largest singular value (one power iteration, on the kernel reshaped to a
    matrix). No layer can then stretch its input by much more than a factor of 1, so the
    critic cannot grow arbitrarily steep, and its gradients stay useful to the generator.
    """
    args.positive_ints(num_classes=num_classes, image_size=image_size, width=width)

    def weights(layer):
        return layers.SpectralNormalization(layer) if spectral_norm else layer

    image = keras.Input((image_size, image_size, 1), name="image")
    label = keras.Input((), dtype="int32", name="label")
    plane = layers.Embedding(num_classes, image_size * image_size)(label)
    x = layers.Concatenate()([image, layers.Reshape((image_size, image_size, 1))(plane)])
    x = layers.LeakyReLU(0.2)(weights(layers.Conv2D(width, 4, strides=2, padding="same"))(x))
    x = layers.LeakyReLU(0.2)(weights(layers.Conv2D(2 * width, 4, strides=2,
                                                    padding="same"))(x))
    score = weights(layers.Dense(1))(layers.Flatten()(x))
    return keras.Model([image, label], score, name="conditional_discriminator")


def conditional_samples(generator, labels, seed: int = 0) -> np.ndarray:
    """One image per label in ``labels`` (class indices) from a :func:`conditional_generator`
    (trained, or loaded from a checkpoint), with noise fixed by ``seed``."""
    latent_dim = generator.input[0].shape[-1]
    num_classes = generator.get_layer("label_embedding").input_dim
    labels = args.labels(labels, "labels", len(np.atleast_1d(labels)), num_classes)
    noise = np.random.default_rng(args.integer(seed, "seed", 0)).normal(
        size=(len(labels), latent_dim)).astype("float32")
    return generator.predict([noise, labels], verbose=0, batch_size=256)


class ConditionalGAN(keras.Model):
    """A class-conditional GAN trained with the hinge loss: ``fit((images, labels))``.

    Critic: ``mean(relu(1 - D(real, y))) + mean(relu(1 + D(fake, y)))`` -- real pairs pushed
    above +1, fakes below -1, and no gradient once they are past it (so the critic does not
    grow ever more confident, as a sigmoid critic can). Generator: ``-mean(D(G(z, y), y))``.
    The fakes get the labels of the real batch, so each step covers the classes as the data
    does.
    """

    def __init__(self, generator, discriminator, latent_dim: int, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = args.integer(latent_dim, "latent_dim", 1)
        self.num_classes = args.integer(num_classes, "num_classes", 2)
        self.seed = keras.random.SeedGenerator(1337)
        self.trackers = {n: keras.metrics.Mean(name=n)
                         for n in ("d_loss", "g_loss", "d_real", "d_fake")}

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def fit(self, x=None, y=None, **kwargs):
        """``keras.Model.fit(images, labels, ...)``; labels given as an array are checked
        first, since an index past the embedding table fails deep inside TensorFlow."""
        if y is not None and not isinstance(y, tf.data.Dataset):
            y = args.labels(y, "y (the labels)", len(x), self.num_classes)
        return super().fit(x, y, **kwargs)

    def sample(self, labels, seed: int = 0) -> np.ndarray:
        """One generated image per label in ``labels`` (class indices), from fixed noise."""
        return conditional_samples(self.generator, labels, seed)

    def train_step(self, data):
        real, labels = data
        n = keras.ops.shape(real)[0]
        noise = keras.random.normal((n, self.latent_dim), seed=self.seed)
        fake = self.generator([noise, labels], training=True)
        with tf.GradientTape() as tape:
            d_real = self.discriminator([real, labels], training=True)
            d_fake = self.discriminator([fake, labels], training=True)
            d_loss = (keras.ops.mean(keras.ops.relu(1.0 - d_real))
                      + keras.ops.mean(keras.ops.relu(1.0 + d_fake)))
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

        noise = keras.random.normal((n, self.latent_dim), seed=self.seed)
        with tf.GradientTape() as tape:
            g_loss = -keras.ops.mean(self.discriminator(
                [self.generator([noise, labels], training=True), labels], training=True))
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))

        for name, value in (("d_loss", d_loss), ("g_loss", g_loss),
                            ("d_real", keras.ops.mean(d_real)),
                            ("d_fake", keras.ops.mean(d_fake))):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}
