"""Generative models at work: generated training data, image editing, super-resolution.

The applications chapter prints these with :func:`cvbook.plots.show_source`; its lab checks
the learner's versions of :func:`edit_step` and :func:`mix` against the ones here.
Images are NHWC float32 in [0, 1], as everywhere in the course. Importing this module imports
Keras.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import args
from .diffusion import Diffusion, ddim_step, q_sample


# --- generated data as augmentation ----------------------------------------------------------

def balanced_subset(labels, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` examples of every class, drawn at random (no repeats)."""
    labels = args.array(labels, "labels", ndim=1, dtype=None)
    per_class = args.integer(per_class, "per_class", 1)
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than "
                             f"per_class={per_class}")
        picks.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(picks))


def mix(x_real, y_real, x_gen, y_gen, per_class: int, seed: int = 0):
    """All real examples plus ``per_class`` generated ones of every class, shuffled together
    (images and labels with the same permutation)."""
    per_class = args.integer(per_class, "per_class", 0)
    pick = balanced_subset(y_gen, per_class, seed) if per_class else np.array([], "int64")
    x = np.concatenate([x_real, np.asarray(x_gen)[pick]])
    y = np.concatenate([y_real, np.asarray(y_gen)[pick]])
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order], y[order]


def train_classifier(x, y, num_classes: int, steps: int, batch_size: int = 64,
                     width: int = 16, seed: int = 0, augment=None):
    """Chapter 2's small CNN trained for exactly ``steps`` batches drawn from (x, y).

    A fixed number of steps is the fair budget when training sets differ in size: a bigger
    set gets no more updates, only more variety per update. ``augment``: a function that
    returns fresh augmentation layers, put in front of the network (active in training only).
    """
    from . import set_seed
    from .models import compile_classifier, small_cnn

    set_seed(seed)
    net = small_cnn(x.shape[1:], num_classes, width=width, dropout=0.25)
    if augment is not None:
        net = keras.Sequential([keras.Input(x.shape[1:]), *augment(), net])
    compile_classifier(net)
    batches = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
               .repeat().batch(batch_size))
    net.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)  # shuffled above
    return net


def class_spread(features, labels) -> float:
    """Variety within classes: the root-mean-square distance of feature vectors to their
    class mean, averaged over classes."""
    features, labels = np.asarray(features), np.asarray(labels)
    return float(np.mean([np.sqrt(((features[labels == c] - features[labels == c].mean(0))
                                   ** 2).sum(1).mean()) for c in np.unique(labels)]))


# --- image editing with a diffusion model ----------------------------------------------------

def edit_step(x_t, t: int, t_prev: int, eps_pred, x0_known, mask, noise, schedule):
    """One DDIM step from ``t`` to ``t_prev`` that keeps the known pixels (RePaint's idea).

    The generated part comes from the model's step; the known part (``mask`` = 1) is the real
    image noised to the *same* level as the result, ``t_prev``, with fresh ``noise``
    (at ``t_prev`` = -1 the clean image itself). Then the two are pasted together.
    """
    generated = ddim_step(x_t, t, t_prev, eps_pred, schedule)
    if t_prev < 0:
        known = x0_known
    else:
        known = q_sample(x0_known, [t_prev] * len(x_t), noise, schedule.alpha_bars)
    return mask * known + (1.0 - mask) * generated


def edit(model: Diffusion, images, t_start: int, steps: int = 20, mask=None, labels=None,
         seed: int = 0):
    """Edit real ``images`` with a trained diffusion model; returns images in [0, 1].

    Noise the images to step ``t_start`` (forward process), then run ``steps`` DDIM steps
    back to a clean image. Without ``mask`` that is **SDEdit**: small ``t_start`` stays close
    to the input, large ``t_start`` keeps only its rough layout. With ``mask`` (1: keep the
    pixel, 0: regenerate it) and ``t_start`` = T - 1 it is **inpainting**: every step
    re-imposes the known pixels (:func:`edit_step`), so the model fills the hole in a way that
    fits them. ``labels`` steer a class-conditional model (None: no label).
    """
    s, rng = model.schedule, np.random.default_rng(args.integer(seed, "seed", 0))
    x0 = args.images(images, "images") * 2.0 - 1.0                  # [0, 1] -> [-1, 1]
    n = len(x0)
    args.integer(t_start, "t_start", 0, s.T - 1), args.integer(steps, "steps", 1)
    keep = np.zeros_like(x0) if mask is None else args.mask(mask, x0.shape)
    if model.num_classes is not None and labels is None:
        labels = np.full(n, model.num_classes, "int32")               # the "no label" label
    x = q_sample(x0, [t_start] * n, rng.normal(size=x0.shape), s.alpha_bars).astype("float32")
    ts = sorted({int(round(v)) for v in np.linspace(0, t_start, steps)}, reverse=True)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        eps = model._predict(x, t, labels)
        x = edit_step(x, t, t_prev, eps, x0, keep, rng.normal(size=x0.shape), s).astype("float32")
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0)


def noise_predictor(model: Diffusion, labels=None):
    """``eps_model(x_t, t)``: the trained network's noise prediction for a batch at step ``t``
    (EMA weights; a conditional model gets ``labels``, None: "no label")."""
    def eps_model(x_t, t: int):
        x_t = np.asarray(x_t, "float32")
        given = labels
        if model.num_classes is not None and given is None:
            given = np.full(len(x_t), model.num_classes, "int32")
        return model._predict(x_t, int(t), given)
    return eps_model


# --- super-resolution ------------------------------------------------------------------------

def downsample(images, factor: int = 2) -> np.ndarray:
    """Shrink images by ``factor`` (area averaging: each low-res pixel is a block's mean)."""
    h, w = args.images(images, "images").shape[1:3]
    if args.integer(factor, "factor", 1) > min(h, w) or h % factor or w % factor:
        raise ValueError(f"factor {factor} must divide the image size {h}x{w}")
    return tf.image.resize(images, (h // factor, w // factor), method="area").numpy()


def upsample_bicubic(images, factor: int = 2) -> np.ndarray:
    """The classic baseline: bicubic interpolation, clipped to [0, 1]."""
    h, w = args.images(images, "images").shape[1:3]
    args.integer(factor, "factor", 1)
    big = tf.image.resize(images, (h * factor, w * factor), method="bicubic")
    return np.clip(big.numpy(), 0, 1)


def sr_network(low_size: int = 14, factor: int = 2, width: int = 32, depth: int = 3):
    """A small super-resolution CNN: bicubic upsampling inside the model, then ``depth``
    3x3 conv layers that predict a *correction* added to it (a residual, as in VDSR)."""
    x_in = keras.Input((low_size, low_size, 1), name="low_res")
    up = layers.Resizing(low_size * factor, low_size * factor, interpolation="bicubic")(x_in)
    h = up
    for _ in range(depth):
        h = layers.Conv2D(width, 3, padding="same", activation="relu")(h)
    out = layers.Add()([up, layers.Conv2D(1, 3, padding="same")(h)])
    return keras.Model(x_in, out, name="sr_cnn")


def sr_discriminator(size: int = 28, width: int = 32):
    """A pix2pix-style conditional critic: it sees the bicubic upsampling *and* a candidate
    high-res image side by side (2 channels), and outputs a logit: real pair or generated?"""
    return keras.Sequential([
        keras.Input((size, size, 2)),
        layers.Conv2D(width, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(2 * width, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(1),
    ], name="sr_critic")


class SuperResolutionGAN(keras.Model):
    """Pixel loss plus an adversarial loss (the pix2pix / SRGAN idea, in miniature).

    ``fit((low_res, high_res))``: the critic learns to tell real high-res images from the
    generator's, given the low-res input; the generator minimises
    ``mse + adv_weight * (fool the critic)``. The pixel loss keeps the output faithful to
    the input; the adversarial term penalises the blur the pixel loss alone prefers.
    """

    def __init__(self, generator, critic, adv_weight: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.critic, self.adv_weight = generator, critic, adv_weight
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("pixel", "adv", "critic")}

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        low, high = data
        size = tf.shape(high)[1:3]
        up = tf.image.resize(low, size, method="bicubic")            # the critic's condition
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(low, training=True)
            real_logit = self.critic(tf.concat([up, high], -1), training=True)
            fake_logit = self.critic(tf.concat([up, fake], -1), training=True)
            d_loss = (self.bce(tf.ones_like(real_logit), real_logit)
                      + self.bce(tf.zeros_like(fake_logit), fake_logit))
            pixel = tf.reduce_mean((fake - high) ** 2)
            adv = self.bce(tf.ones_like(fake_logit), fake_logit)
            g_loss = pixel + self.adv_weight * adv
        for tape, loss, opt, net in ((d_tape, d_loss, self.d_optimizer, self.critic),
                                     (g_tape, g_loss, self.g_optimizer, self.generator)):
            opt.apply_gradients(zip(tape.gradient(loss, net.trainable_weights),
                                    net.trainable_weights))
        for name, value in (("pixel", pixel), ("adv", adv), ("critic", d_loss)):
            self.trackers[name].update_state(value)
        return {k: t.result() for k, t in self.trackers.items()}


def psnr(images, reference) -> float:
    """Peak signal-to-noise ratio in dB (images in [0, 1]), averaged over images: higher is
    closer pixel by pixel. It rewards the average guess, so it favours blur."""
    images, reference = args.images(images, "images"), args.images(reference, "reference")
    if images.shape != reference.shape:
        raise ValueError(f"images {images.shape} and reference {reference.shape} must have "
                         f"the same shape")
    mse = np.mean((np.clip(images, 0, 1) - reference) ** 2, axis=(1, 2, 3))
    return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def edge_energy(images) -> float:
    """Mean absolute difference between neighbouring pixels: how much fine texture and how
    many sharp edges the images hold (blur lowers it)."""
    x = args.images(images, "images", value_range=None)
    return float(np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean())
