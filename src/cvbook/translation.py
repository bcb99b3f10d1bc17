"""Image-to-image translation in miniature: pix2pix (paired) and CycleGAN (unpaired).

- :func:`sketches` turns garments into edge maps, the "sketch" side of sketch -> garment;
- :func:`night` renders garments "at night" with a fixed recipe, the other domain of
  day -> night, so the true night version of every test image is known;
- :func:`unet_generator` and :func:`patch_discriminator` are the two networks of pix2pix
  (Isola et al. 2017), shrunk to 28x28; :class:`Pix2Pix` and :class:`CycleGAN` train them with
  a custom ``train_step``.

Like ``cvbook.gan``, generators end in a sigmoid (images in [0, 1]) and discriminators output
probabilities "real". Importing this module imports Keras (unlike ``import cvbook``).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import args, gan

EDGE_METHODS = ("sobel", "canny")


def sketches(images, method: str = "sobel", threshold: float = 0.2, sigma: float = 1.0):
    """Edge maps of ``images`` (N, H, W, 1) in [0, 1]: 1.0 on an edge, 0.0 elsewhere.

    ``"sobel"``: the gradient magnitude of chapter 1's two Sobel kernels, divided by each
    image's largest magnitude, kept where it is above ``threshold``. ``"canny"``:
    ``skimage.feature.canny`` with Gaussian smoothing ``sigma`` (thin, one-pixel edges).
    """
    from scipy import ndimage

    images = args.images(images, channels=1)
    args.choice(method, "method", EDGE_METHODS)
    threshold = args.number(threshold, "threshold", 0.0, 1.0)
    sigma = args.number(sigma, "sigma", 0.0)
    out = np.zeros_like(images)
    for i, image in enumerate(images[..., 0]):
        if method == "sobel":
            magnitude = np.hypot(ndimage.sobel(image, axis=0), ndimage.sobel(image, axis=1))
            edges = magnitude > threshold * max(float(magnitude.max()), 1e-6)
        else:
            from skimage.feature import canny

            edges = canny(image, sigma=sigma)
        out[i, ..., 0] = edges
    return out


def night(images, seed: int = 0, brightness: float = 0.45, floor: float = 0.05,
          noise: float = 0.04, vignette: float = 0.6):
    """The night rendition of ``images`` (N, H, W, C) in [0, 1], by a fixed recipe.

    ``floor + brightness * x`` (darker, lower contrast), times a vignette that dims the corners
    by the fraction ``vignette``, plus Gaussian sensor noise of standard deviation ``noise``
    (drawn from ``seed``), clipped to [0, 1]. ``noise=0`` gives the noiseless target that a
    translation is scored against.
    """
    images = args.images(images)
    seed = args.integer(seed, "seed", 0)
    for name, value in (("brightness", brightness), ("floor", floor), ("noise", noise),
                        ("vignette", vignette)):
        args.number(value, name, 0.0, 1.0)
    h, w = images.shape[1:3]
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    dim = 1.0 - vignette * (yy ** 2 + xx ** 2) / 2.0  # 1 at the centre, 1 - vignette at corners
    out = (floor + brightness * images) * dim[None, :, :, None]
    if noise:
        out = out + np.random.default_rng(seed).normal(0.0, noise, out.shape)
    return np.clip(out, 0.0, 1.0).astype("float32")


def unet_generator(image_size: int = 28, in_channels: int = 1, out_channels: int = 1,
                   width: int = 32, name: str = "unet_generator"):
    """pix2pix's generator in miniature: a U-Net from one image to another of the same size.

    Encoder: a convolution at full size, then two stride-2 convolutions (28 -> 14 -> 7).
    Decoder: two stride-2 transposed convolutions back to full size, each followed by the
    encoder's map of the same size concatenated to it (the skip connections carry the sketch's
    exact edges to the output). Batch norm and leaky ReLU inside, a sigmoid at the end. The
    batch norm's momentum is 0.9, not Keras's 0.99: after a run of a few hundred steps the
    running statistics it uses at inference have then forgotten their starting values.
    ``image_size`` must be a multiple of 4.
    """
    args.positive_ints(image_size=image_size, in_channels=in_channels,
                       out_channels=out_channels, width=width)
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4, got {image_size}")

    def block(x, filters, strides=1, transpose=False):
        conv = layers.Conv2DTranspose if transpose else layers.Conv2D
        x = conv(filters, 4 if strides > 1 else 3, strides=strides, padding="same",
                 use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)  # short runs: see chapter 2c
        return layers.LeakyReLU(0.2)(x)

    inputs = keras.Input((image_size, image_size, in_channels))
    full = block(inputs, width)                              # 28x28
    half = block(full, 2 * width, strides=2)                 # 14x14
    quarter = block(half, 4 * width, strides=2)              # 7x7
    x = block(quarter, 4 * width)
    x = block(x, 2 * width, strides=2, transpose=True)       # 14x14
    x = layers.Concatenate()([x, half])
    x = block(x, width, strides=2, transpose=True)           # 28x28
    x = layers.Concatenate()([x, full])
    outputs = layers.Conv2D(out_channels, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name=name)


def patch_discriminator(image_size: int = 28, channels: int = 1, condition_channels: int = 1,
                        width: int = 32, name: str = "patch_discriminator"):
    """A PatchGAN discriminator: a grid of probabilities "real", one per overlapping patch.

    Two stride-2 convolutions and a 3x3 convolution to one channel give a (size/4)^2 grid
    (7x7 for 28x28 images); each output sees an 18x18 patch of the input. With
    ``condition_channels > 0`` it takes ``[condition, image]`` and judges the pair (pix2pix's
    conditional critic: "is this the garment of this sketch?"); with 0 it takes the image alone.
    """
    args.positive_ints(image_size=image_size, channels=channels, width=width)
    condition_channels = args.integer(condition_channels, "condition_channels", 0)
    image = keras.Input((image_size, image_size, channels), name="image")
    if condition_channels:
        condition = keras.Input((image_size, image_size, condition_channels), name="condition")
        inputs, x = [condition, image], layers.Concatenate()([condition, image])
    else:
        inputs, x = image, image
    x = layers.Conv2D(width, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(2 * width, 4, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name=name)


def pix2pix_generator_loss(p_fake, fake, target, l1_weight: float = 100.0):
    """pix2pix's generator loss: ``adversarial + l1_weight * L1``. Returns the total and its
    two parts.

    adversarial: binary cross-entropy of the discriminator's patch probabilities on the fake
    against "real" (1); L1: the mean absolute difference between the fake and the *target*
    garment (not the sketch it came from). Isola et al. use ``l1_weight = 100``.
    """
    l1_weight = args.number(l1_weight, "l1_weight", 0.0)
    adversarial = gan.generator_loss(p_fake)  # chapter 4's, now on every patch
    l1 = keras.ops.mean(keras.ops.abs(target - fake))
    return adversarial + l1_weight * l1, adversarial, l1


def patch_discriminator_loss(p_real, p_fake):
    """Binary cross-entropy of every patch: real pairs -> 1, fake pairs -> 0. It is chapter
    4's discriminator loss unchanged: the cross-entropy averages over all the patch
    probabilities as it did over one per image."""
    return gan.discriminator_loss(p_real, p_fake)


def cycle_loss(real, reconstructed):
    """Cycle consistency: the mean absolute difference between an image and its round trip
    (A -> B -> A), which keeps the content a translation may not invent or drop."""
    return keras.ops.mean(keras.ops.abs(real - reconstructed))


def identity_loss(real, same):
    """Identity: a generator into domain B given an image already in B should return it
    unchanged; the mean absolute difference between the two."""
    return keras.ops.mean(keras.ops.abs(real - same))


def _same_images(a, b, name_a: str, name_b: str, same_length: bool):
    a = args.images(a, name_a)
    b = args.images(b, name_b)
    if a.shape[1:] != b.shape[1:] or (same_length and len(a) != len(b)):
        what = "shape" if same_length else "image shape (height, width, channels)"
        raise ValueError(f"{name_a} and {name_b} must have the same {what}, got "
                         f"{a.shape} and {b.shape}")
    return a, b


def paired_dataset(conditions, targets, batch_size: int, seed: int = 0):
    """A shuffled, repeating ``tf.data`` stream of (condition, target) batches for
    :class:`Pix2Pix`: pair i is ``(conditions[i], targets[i])``, always together."""
    conditions, targets = _same_images(conditions, targets, "conditions", "targets", True)
    batch_size = args.integer(batch_size, "batch_size", 1)
    return (tf.data.Dataset.from_tensor_slices((conditions, targets))
            .shuffle(len(conditions), seed=args.integer(seed, "seed", 0)).repeat()
            .batch(batch_size))


def unpaired_dataset(a, b, batch_size: int, seed: int = 0):
    """A repeating stream of (A batch, B batch) for :class:`CycleGAN`, each domain shuffled
    on its own: no image of A is ever fed with a fixed partner in B."""
    a, b = _same_images(a, b, "a", "b", False)
    batch_size = args.integer(batch_size, "batch_size", 1)
    seed = args.integer(seed, "seed", 0)
    def side(x, s):
        return tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=s).repeat()

    return tf.data.Dataset.zip(side(a, seed + 1), side(b, seed + 2)).batch(batch_size)


class Pix2Pix(keras.Model):
    """Paired translation, condition -> target, as one ``keras.Model``: ``fit((x, y))``.

    With a ``discriminator`` each step has two phases: the conditional discriminator learns
    real pairs (x, y) -> 1 and fake pairs (x, G(x)) -> 0; then the generator learns to make
    its pairs look real *and* stay close to y in L1 (:func:`pix2pix_generator_loss`). Without
    one (``discriminator=None``) the generator learns the L1 loss alone: the baseline.
    """

    def __init__(self, generator, discriminator=None, l1_weight: float = 100.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = args.number(l1_weight, "l1_weight", 0.0)
        names = ("g_loss", "l1") + (("d_loss", "d_real", "d_fake") if discriminator else ())
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}

    def compile(self, g_optimizer, d_optimizer=None, **kwargs):
        super().compile(**kwargs)
        if self.discriminator is not None and d_optimizer is None:
            raise ValueError("d_optimizer is needed: this Pix2Pix has a discriminator")
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, condition, training=False):
        return self.generator(condition, training=training)

    def train_step(self, data):
        condition, target = data
        logs = {}
        if self.discriminator is not None:
            fake = self.generator(condition, training=True)
            with tf.GradientTape() as tape:
                p_real = self.discriminator([condition, target], training=True)
                p_fake = self.discriminator([condition, fake], training=True)
                d_loss = patch_discriminator_loss(p_real, p_fake)
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
            logs.update(d_loss=d_loss, d_real=keras.ops.mean(p_real),
                        d_fake=keras.ops.mean(p_fake))
        with tf.GradientTape() as tape:
            fake = self.generator(condition, training=True)
            if self.discriminator is not None:
                p_fooled = self.discriminator([condition, fake], training=True)
                g_loss, _, l1 = pix2pix_generator_loss(p_fooled, fake, target, self.l1_weight)
            else:
                l1 = keras.ops.mean(keras.ops.abs(target - fake))
                g_loss = l1
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        logs.update(g_loss=g_loss, l1=l1)
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}


class CycleGAN(keras.Model):
    """Unpaired translation between domains A and B: ``fit((a, b))`` with unrelated batches.

    Two generators (``g_ab``: A -> B, ``g_ba``: B -> A) and two unconditional discriminators
    (``d_a``, ``d_b``). The generators learn together: fool both discriminators, plus
    ``cycle_weight`` times the cycle losses (A -> B -> A and B -> A -> B come back unchanged)
    plus ``identity_weight`` times the identity losses (``g_ab`` leaves a B image alone).
    Zhu et al. (2017) use 10 and 5 and a least-squares adversarial loss; this one keeps the
    course's binary cross-entropy. A weight of 0 switches a term off.
    """

    def __init__(self, g_ab, g_ba, d_a, d_b, cycle_weight: float = 10.0,
                 identity_weight: float = 5.0, **kwargs):
        super().__init__(**kwargs)
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.cycle_weight = args.number(cycle_weight, "cycle_weight", 0.0)
        self.identity_weight = args.number(identity_weight, "identity_weight", 0.0)
        self.trackers = {n: keras.metrics.Mean(name=n)
                         for n in ("g_loss", "cycle", "identity", "d_loss")}

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, a, training=False):
        return self.g_ab(a, training=training)

    def train_step(self, data):
        a, b = data
        bce = keras.losses.BinaryCrossentropy()
        with tf.GradientTape() as tape:
            fake_b, fake_a = self.g_ab(a, training=True), self.g_ba(b, training=True)
            p_b, p_a = self.d_b(fake_b, training=True), self.d_a(fake_a, training=True)
            adversarial = (bce(keras.ops.ones_like(p_b), p_b)
                           + bce(keras.ops.ones_like(p_a), p_a))
            cycle = (cycle_loss(a, self.g_ba(fake_b, training=True))
                     + cycle_loss(b, self.g_ab(fake_a, training=True)))
            identity = (identity_loss(b, self.g_ab(b, training=True))
                        + identity_loss(a, self.g_ba(a, training=True)))
            g_loss = adversarial + self.cycle_weight * cycle + self.identity_weight * identity
        g_vars = self.g_ab.trainable_variables + self.g_ba.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))

        with tf.GradientTape() as tape:
            d_loss = (patch_discriminator_loss(self.d_b(b, training=True),
                                               self.d_b(fake_b, training=True))
                      + patch_discriminator_loss(self.d_a(a, training=True),
                                                 self.d_a(fake_a, training=True)))
        d_vars = self.d_a.trainable_variables + self.d_b.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

        for name, value in (("g_loss", g_loss), ("cycle", cycle), ("identity", identity),
                            ("d_loss", d_loss)):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}
