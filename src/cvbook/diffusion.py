"""Diffusion models: noise schedules, the forward process, a small U-Net, DDPM and DDIM sampling.

The diffusion chapter prints these with :func:`cvbook.plots.show_source`; the diffusion lab
checks the learner's versions against the reference functions here.

Conventions (as in Ho et al., 2020, with 0-based steps): ``t`` runs over ``0 .. T-1``;
``alphas = 1 - betas``; ``alpha_bars[t] = alphas[0] * ... * alphas[t]``; the forward process is
``x_t = sqrt(alpha_bars[t]) * x_0 + sqrt(1 - alpha_bars[t]) * noise``. The networks work on
images scaled to [-1, 1]; :class:`Diffusion` converts from and to the course's [0, 1].
Importing this module imports Keras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import args, models


@dataclass
class Schedule:
    """A variance schedule: ``betas`` (noise added at each step) and what follows from them."""

    betas: np.ndarray

    @property
    def T(self) -> int:
        return len(self.betas)

    @cached_property
    def alphas(self) -> np.ndarray:
        return 1.0 - self.betas

    @cached_property
    def alpha_bars(self) -> np.ndarray:
        return np.cumprod(self.alphas)

    @cached_property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio of x_t: alpha_bar / (1 - alpha_bar)."""
        return self.alpha_bars / (1.0 - self.alpha_bars)


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """DDPM's schedule: betas grow linearly. With ``T`` < 1000 the ends scale by 1000 / T (the
    total noise stays about the same); betas are capped at 0.999 so that no alpha is 0."""
    args.integer(T, "T", 2)
    scale = 1000 / T
    return Schedule(np.minimum(np.linspace(beta_start * scale, beta_end * scale, T), 0.999))


def cosine_schedule(T: int = 1000, s: float = 0.008) -> Schedule:
    """Nichol & Dhariwal (2021): alpha_bar follows a squared cosine, so the signal fades evenly."""
    args.integer(T, "T", 2)
    steps = np.arange(T + 1, dtype="float64") / T
    f = np.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bars = f / f[0]
    return Schedule(np.clip(1 - alpha_bars[1:] / alpha_bars[:-1], 0, 0.999))


def q_sample(x0, t, noise, alpha_bars):
    """Jump straight to step ``t`` of the forward process (``t``: one int per image)."""
    ab = np.asarray(alpha_bars, dtype="float32")[np.asarray(t)].reshape(-1, 1, 1, 1)
    return np.sqrt(ab) * x0 + np.sqrt(1.0 - ab) * noise


def diffusion_loss(eps_model, x0, t, noise, alpha_bars):
    """The simple DDPM loss: mean squared error between the true and the predicted noise."""
    x_t = q_sample(x0, t, noise, alpha_bars)
    eps_pred = eps_model(x_t, t)
    return float(np.mean((np.asarray(eps_pred) - noise) ** 2))


def ddpm_step(x_t, t: int, eps_pred, schedule: Schedule, z, clip: bool = False):
    """One DDPM reverse step, x_t -> x_{t-1}, with sigma_t^2 = beta_t (no noise at t = 0).

    ``clip=True`` first clips the clean image implied by the predicted noise to the data range
    [-1, 1] and uses the noise that matches it, as :func:`ddim_step` does: a short-trained
    network's small errors then cannot push pixels out of range over hundreds of steps.
    """
    beta, alpha, ab = schedule.betas[t], schedule.alphas[t], schedule.alpha_bars[t]
    if clip:
        x0_pred = np.clip((x_t - np.sqrt(1.0 - ab) * eps_pred) / np.sqrt(ab), -1.0, 1.0)
        eps_pred = (x_t - np.sqrt(ab) * x0_pred) / np.sqrt(1.0 - ab)
    mean = (x_t - beta / np.sqrt(1.0 - ab) * eps_pred) / np.sqrt(alpha)
    return mean + (np.sqrt(beta) * z if t > 0 else 0.0)


def ddim_step(x_t, t: int, t_prev: int, eps_pred, schedule: Schedule, clip: bool = True):
    """One deterministic DDIM step (eta = 0) from ``t`` to ``t_prev`` (-1: the clean image).

    The clean image implied by the predicted noise is clipped to the data range [-1, 1]:
    near t = T the division by sqrt(alpha_bar) would otherwise blow up small errors.
    (``clip=False`` for data without such a range, such as an autoencoder's latents.)
    """
    ab = schedule.alpha_bars[t]
    ab_prev = schedule.alpha_bars[t_prev] if t_prev >= 0 else 1.0
    x0_pred = (x_t - np.sqrt(1.0 - ab) * eps_pred) / np.sqrt(ab)
    if clip:
        x0_pred = np.clip(x0_pred, -1.0, 1.0)
    eps_pred = (x_t - np.sqrt(ab) * x0_pred) / np.sqrt(1.0 - ab)  # the noise that matches it
    return np.sqrt(ab_prev) * x0_pred + np.sqrt(1.0 - ab_prev) * eps_pred


class TimeEmbedding(layers.Layer):
    """Sinusoidal embedding of the step ``t`` (as in Transformers): the network knows the
    noise level."""

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim

    def call(self, t):
        half = self.dim // 2
        freqs = keras.ops.exp(-math.log(10000.0) * keras.ops.arange(half, dtype="float32") / half)
        angles = keras.ops.cast(keras.ops.reshape(t, (-1, 1)), "float32") * freqs[None, :]
        return keras.ops.concatenate([keras.ops.sin(angles), keras.ops.cos(angles)], axis=-1)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def _block(x, temb, width: int):
    """Conv > add the time embedding > swish > conv > swish, with a residual connection."""
    skip = layers.Conv2D(width, 1)(x) if x.shape[-1] != width else x
    h = layers.Conv2D(width, 3, padding="same")(x)
    h = layers.Add()([h, layers.Reshape((1, 1, width))(layers.Dense(width)(temb))])
    h = layers.Activation("swish")(layers.GroupNormalization(8)(h))
    h = layers.Conv2D(width, 3, padding="same")(h)
    h = layers.Activation("swish")(layers.GroupNormalization(8)(h))
    return layers.Add()([h, skip])


def unet(image_size: int = 16, channels: int = 1, widths=(32, 64), embed_dim: int = 64,
         num_classes: int | None = None):
    """A small U-Net that predicts the noise in x_t: inputs ``[x_t, t]``, output like ``x_t``.

    Down: one block per width, each followed by 2x2 average pooling (the skips are kept);
    a middle block; up: 2x upsampling, concatenate the skip of the same size, one block.
    With ``num_classes``, a third input ``label`` (``num_classes`` itself means "no label")
    is embedded and added to the time embedding: a class-conditional model.
    """
    args.positive_ints(image_size=image_size, channels=channels, embed_dim=embed_dim)
    if image_size % 2 ** len(widths):
        raise ValueError(f"image_size {image_size} must be divisible by 2**len(widths) = "
                         f"{2 ** len(widths)}: each width halves the size once")
    x_in = keras.Input((image_size, image_size, channels), name="x_t")
    t_in = keras.Input((), name="t")
    inputs = [x_in, t_in]
    temb = TimeEmbedding(embed_dim)(t_in)
    if num_classes is not None:
        label_in = keras.Input((), dtype="int32", name="label")
        inputs.append(label_in)
        temb = layers.Concatenate()([temb, layers.Embedding(num_classes + 1, embed_dim)(label_in)])
    temb = layers.Dense(embed_dim, activation="swish")(temb)
    x = layers.Conv2D(widths[0], 3, padding="same")(x_in)
    skips = []
    for width in widths:
        x = _block(x, temb, width)
        skips.append(x)
        x = layers.AveragePooling2D(2)(x)
    x = _block(x, temb, widths[-1])
    for width, skip in zip(reversed(widths), reversed(skips)):
        x = layers.UpSampling2D(2)(x)
        x = _block(layers.Concatenate()([x, skip]), temb, width)
    out = layers.Conv2D(channels, 1, kernel_initializer="zeros", name="noise")(x)
    return keras.Model(inputs, out, name="unet")


class Diffusion(keras.Model):
    """A DDPM: ``fit(images)`` trains the U-Net to predict noise; ``sample`` generates.

    ``train_step``: pick a random step t for each image, noise the image to x_t in closed
    form, ask the network for the noise, and minimise the mean squared error. An exponential
    moving average (EMA) of the weights is kept for sampling: it is smoother than the weights
    of the last step.

    With ``num_classes`` (and a U-Net built with it), ``fit(images, labels)`` trains a
    class-conditional model that also learns the unconditional one: each label is replaced by
    "no label" with probability ``label_dropout``. That is what classifier-free guidance needs.

    The stronger recipe of the shipped checkpoint: ``prediction="v"`` trains the network to
    predict v = sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x_0 instead of the noise
    (Salimans & Ho, 2022); ``min_snr=gamma`` weights each image's error by the Min-SNR rule
    (Hang et al., 2023) so that nearly clean steps do not dominate; ``ema_warmup=True`` lets
    the average follow the weights closely at first (decay (1 + n) / (10 + n) after n steps,
    up to ``ema``).
    """

    def __init__(self, network, schedule: Schedule, ema: float = 0.999,
                 num_classes: int | None = None, label_dropout: float = 0.2,
                 prediction: str = "eps", min_snr: float | None = None,
                 ema_warmup: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.prediction = args.choice(prediction, "prediction", ("eps", "v"))
        self.min_snr = None if min_snr is None else args.number(min_snr, "min_snr", 1e-3)
        self.ema_warmup = bool(ema_warmup)
        self.snr = tf.constant(schedule.snr, dtype="float32")
        self.network = network
        self.ema_network = keras.models.clone_model(network)
        self.ema_network.set_weights(network.get_weights())
        self.schedule = schedule
        self.ema = ema
        self.num_classes = num_classes
        self.label_dropout = label_dropout
        self.alpha_bars = tf.constant(schedule.alpha_bars, dtype="float32")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    @property
    def metrics(self):
        return [self.loss_tracker]

    # What the data is, and what conditions it: a subclass changes these four (the
    # text-to-image chapter's latents and captions), train_step and sample stay as they are.
    clip = True  # the network's data has the range [-1, 1]: sampling clips to it

    def to_model_space(self, images):
        return images * 2.0 - 1.0                                 # [0, 1] -> [-1, 1]

    def from_model_space(self, x):
        return np.clip((x + 1.0) / 2.0, 0.0, 1.0)                 # [-1, 1] -> [0, 1]

    def drop_condition(self, labels, drop):
        """The labels, with "no label" where ``drop`` is True."""
        return tf.where(drop, self.num_classes, tf.cast(labels, "int32"))

    def train_step(self, data):
        images, labels = data if isinstance(data, tuple) else (data, None)
        x0 = self.to_model_space(images)                          # [0, 1] -> [-1, 1]
        n = tf.shape(x0)[0]
        t = tf.random.uniform((n,), 0, self.schedule.T, dtype="int32")
        noise = tf.random.normal(tf.shape(x0))
        ab = tf.reshape(tf.gather(self.alpha_bars, t), (-1, 1, 1, 1))
        x_t = tf.sqrt(ab) * x0 + tf.sqrt(1.0 - ab) * noise        # the closed form
        inputs = [x_t, t]
        if self.conditional:
            drop = tf.random.uniform((n,)) < self.label_dropout
            inputs.append(self.drop_condition(labels, drop))
        if self.prediction == "eps":                              # what the network predicts
            target = noise
        else:                                                     # v: noise and image mixed
            target = tf.sqrt(ab) * noise - tf.sqrt(1.0 - ab) * x0
        with tf.GradientTape() as tape:
            prediction = self.network(inputs, training=True)
            error = tf.reduce_mean((prediction - target) ** 2, [1, 2, 3])  # one per image
            loss = tf.reduce_mean(self._loss_weight(t) * error)
        grads = tape.gradient(loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_weights))
        decay = self._ema_decay()
        for w, ema_w in zip(self.network.weights, self.ema_network.weights):
            ema_w.assign(decay * ema_w + (1.0 - decay) * w)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def _loss_weight(self, t):
        """Min-SNR-gamma: min(SNR, gamma) / SNR for the noise target, / (SNR + 1) for v (the
        error in v already weighs SNR + 1 times the noise error); 1 without ``min_snr``."""
        if self.min_snr is None:
            return 1.0
        snr = tf.gather(self.snr, t)
        return tf.minimum(snr, self.min_snr) / (snr if self.prediction == "eps" else snr + 1.0)

    def _ema_decay(self):
        if not self.ema_warmup:
            return self.ema
        n = tf.cast(self.optimizer.iterations, "float32")
        return tf.minimum(self.ema, (1.0 + n) / (10.0 + n))

    def sample(self, n: int, steps: int | None = None, method: str = "ddpm", seed: int = 0,
               labels=None, guidance: float = 0.0, keep: int = 0, progress: bool = False):
        """Generate ``n`` images in [0, 1].

        ``method="ddpm"`` walks all T steps back; ``"ddim"`` takes ``steps`` evenly spaced
        deterministic steps. A conditional model takes ``labels`` (None: unconditional) and a
        classifier-free ``guidance`` weight w: noise = (1 + w) * eps(label) - w * eps(none).
        ``keep > 0`` also returns ``keep`` snapshots of the first image on its way from noise
        to image, as ``(images, [(t, image), ...])``.
        """
        n, labels, none = self._checked_sample_args(n, steps, method, seed, labels, guidance,
                                                    keep)
        s, rng = self.schedule, np.random.default_rng(seed)
        shape = (n, *self.network.input_shape[0][1:])
        x = rng.normal(size=shape).astype("float32")  # pure noise: step T
        if method == "ddpm":  # every step, T-1 down to 0
            ts = list(range(s.T - 1, -1, -1))
        else:  # DDIM: `steps` evenly spaced steps
            ts = sorted({int(round(v)) for v in np.linspace(0, s.T - 1, steps or 50)}, reverse=True)
        marks = set(np.linspace(0, len(ts) - 1, keep).astype(int)) if keep else set()
        trajectory = []
        log = models.step_log(len(ts), "sampling step") if progress else None
        for i, t in enumerate(ts):
            eps = self._predict(x, t, labels)
            if guidance:
                eps = (1.0 + guidance) * eps - guidance * self._predict(x, t, none)
            if method == "ddpm":
                z = rng.normal(size=shape).astype("float32")
                x = ddpm_step(x, t, eps, s, z, clip=self.clip)
            else:
                x = ddim_step(x, t, ts[i + 1] if i + 1 < len(ts) else -1, eps, s, self.clip)
            x = x.astype("float32")
            if i in marks:
                trajectory.append((t, self.from_model_space(x[:1])[0]))
            if log:
                log(i + 1)
        images = self.from_model_space(x)
        return (images, trajectory) if keep else images

    def _checked_sample_args(self, n, steps, method, seed, labels, guidance, keep):
        """``sample``'s arguments checked; returns n, the labels (the "no label" class for an
        unconditional call of a conditional model) and that "no label" class itself."""
        n = args.integer(n, "n", 1)
        args.integer(seed, "seed", 0)
        args.integer(keep, "keep", 0)
        args.integer(steps, "steps", 1, self.schedule.T, none=True)
        args.choice(method, "method", ("ddpm", "ddim"))
        conditional = labels is not None or args.number(guidance, "guidance", 0.0)
        if conditional and self.num_classes is None:
            raise ValueError("labels and guidance need a class-conditional model (num_classes)")
        if labels is not None:
            labels = args.labels(labels, "labels", n, self.num_classes)
        none = None if self.num_classes is None else np.full(n, self.num_classes, "int32")
        return n, (none if labels is None else np.asarray(labels, "int32")), none

    def _predict(self, x, t: int, labels=None):
        if not hasattr(self, "_predict_fn"):
            self._predict_fn = tf.function(lambda inputs: self.ema_network(inputs, training=False),
                                           reduce_retracing=True)
        inputs = [tf.constant(x), tf.fill((len(x),), t)]
        if labels is not None:
            inputs.append(tf.constant(labels))
        out = self._predict_fn(inputs).numpy()
        if self.prediction == "v":  # the noise that v implies: sqrt(ab) * v + sqrt(1 - ab) * x_t
            ab = self.schedule.alpha_bars[t]
            out = np.sqrt(ab) * out + np.sqrt(1.0 - ab) * x
        return out


def optimizer(learning_rate: float, steps: int, warmup_steps: int = 0,
              final_lr_fraction: float = 1.0, weight_decay: float = 0.0):
    """AdamW for a run of ``steps`` training steps: the rate climbs linearly from 0 to
    ``learning_rate`` over the first ``warmup_steps``, then follows a cosine down to
    ``final_lr_fraction`` of it. The defaults (no warm-up, a fraction of 1, no weight decay)
    are Adam at a constant rate."""
    _check_optimizer_args(learning_rate, steps, warmup_steps, final_lr_fraction, weight_decay)
    rate = learning_rate                                        # constant, unless:
    if warmup_steps:                                            # 0 -> peak, then the cosine
        rate = keras.optimizers.schedules.CosineDecay(
            0.0, steps - warmup_steps, alpha=final_lr_fraction, warmup_target=learning_rate,
            warmup_steps=warmup_steps)
    elif final_lr_fraction < 1.0:                               # the cosine from the start
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps,
                                                      alpha=final_lr_fraction)
    return keras.optimizers.AdamW(rate, weight_decay=weight_decay)


def _check_optimizer_args(learning_rate, steps, warmup_steps, final_lr_fraction,
                          weight_decay) -> None:
    """``optimizer``'s arguments checked, kept out of the code the chapter shows."""
    args.number(learning_rate, "learning_rate", 1e-12)
    args.integer(steps, "steps", 1)
    args.integer(warmup_steps, "warmup_steps", 0, steps - 1)
    args.number(final_lr_fraction, "final_lr_fraction", 0.0, 1.0)
    args.number(weight_decay, "weight_decay", 0.0)
