"""Text-to-image in miniature: every piece of a latent diffusion model, small enough to train
on a laptop.

- :class:`Autoencoder`: 28x28 images <-> 8x8x4 latents (the image is padded to 32x32 first,
  so that two halvings give 8x8); the diffusion model works on the latents, 4x fewer numbers.
- :func:`tokenize`: prompts -> token ids, with ``keras.layers.TextVectorization`` and the fixed
  vocabulary of :mod:`cvbook.captions`; every caption starts with a start token, so the empty
  caption ``""`` (what caption dropout trains as "no caption") is that token alone.
- :func:`text_encoder`: a small transformer over the tokens (embedding, self-attention, MLP).
- :func:`cross_attention`: image tokens attend to the caption's tokens (padding masked).
- :func:`latent_unet` and :func:`latent_dit`: two denoisers that read the caption through
  cross-attention, a U-Net and a DiT-style transformer (Peebles & Xie, 2023).
- :class:`TextDiffusion`: :class:`cvbook.diffusion.Diffusion` on latents, conditioned on
  captions, with classifier-free guidance.
"""

from __future__ import annotations

import functools
import re

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from . import args, captions, diffusion

LATENT_SIZE, LATENT_CHANNELS = 8, 4
MAX_WORDS = 8        # the longest caption has 6 words ("a large dark patterned ankle boot")
TOKENS = MAX_WORDS + 1                     # the start token, then the words, then padding (0)


def _words(text: str) -> list[str]:
    """Lower case, commas and full stops dropped, split at spaces: as the tokenizer reads."""
    return re.sub(r"[,.]", " ", text.lower()).split()


# every word a caption can hold: the class names, the attribute values, "a" and "and"
VOCABULARY = tuple(sorted(
    {w for name in captions.CLASS_WORDS for w in _words(name)}
    | {w for values in captions.ATTRIBUTES.values() for w in values}
    | {w for t in captions.TEMPLATES for w in _words(re.sub(r"\{\w+\}", " ", t))}))
START = len(VOCABULARY) + 2    # TextVectorization: 0 is padding, 1 an unknown word, then words
VOCAB_SIZE = START + 1


def _standardize(text):
    return tf.strings.regex_replace(tf.strings.lower(text), r"[,.]", " ")


@functools.cache
def _vectorizer():
    return layers.TextVectorization(vocabulary=list(VOCABULARY), standardize=_standardize,
                                    output_sequence_length=MAX_WORDS)


def tokenize(prompts) -> np.ndarray:
    """Token ids (N x TOKENS, int32) of one prompt or a list of them: the start token, one id
    per word, zeros for padding. The empty prompt ``""`` is the start token alone: the "no
    caption" that caption dropout trains, so it asks for an unconditional sample."""
    prompts = _checked_prompts(prompts)
    ids = _vectorizer()(tf.constant(prompts)).numpy()            # N x MAX_WORDS
    return np.concatenate([np.full((len(ids), 1), START), ids], 1).astype("int32")


def _checked_prompts(prompts) -> list[str]:
    """A list of prompts of known words, or an error that says what the model knows."""
    prompts = [prompts] if isinstance(prompts, str) else prompts
    if not isinstance(prompts, (list, tuple)) or not prompts or not all(
            isinstance(p, str) for p in prompts):
        raise ValueError(f"prompts must be a string or a non-empty list of strings, got "
                         f"{prompts!r:.80}")
    for p in prompts:
        unknown = [w for w in _words(p) if w not in VOCABULARY]
        if unknown:
            raise ValueError(f"prompts: {p!r} has words the model never saw: "
                             f"{', '.join(unknown)}. It knows: {', '.join(VOCABULARY)}")
        if len(_words(p)) > MAX_WORDS:
            raise ValueError(f"prompts: {p!r} has {len(_words(p))} words; at most {MAX_WORDS}")
    return list(prompts)


@keras.saving.register_keras_serializable("cvbook")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector to each position of a sequence (B x L x D)."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=tuple(input_shape[1:]), name="table",
                                     initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + self.table


def text_encoder(dim: int = 64, depth: int = 2, heads: int = 4):
    """Token ids (B x TOKENS) -> one vector per token (B x TOKENS x dim): an embedding plus a
    position, then ``depth`` pre-norm transformer blocks (self-attention, MLP); padding masked."""
    args.positive_ints(dim=dim, depth=depth, heads=heads)
    ids = keras.Input((TOKENS,), dtype="int32", name="caption")
    mask = ops.expand_dims(ops.not_equal(ids, 0), 1)            # B x 1 x TOKENS: real tokens
    x = PositionEmbedding()(layers.Embedding(VOCAB_SIZE, dim)(ids))
    for _ in range(depth):
        h = layers.LayerNormalization()(x)
        x = x + layers.MultiHeadAttention(heads, dim // heads)(h, h, attention_mask=mask)
        h = layers.Dense(2 * dim, activation="gelu")(layers.LayerNormalization()(x))
        x = x + layers.Dense(dim)(h)
    return keras.Model(ids, layers.LayerNormalization()(x), name="text_encoder")


def cross_attention(x, text, mask, heads: int):
    """Image tokens ``x`` (B x N x C) attend to the caption ``text`` (B x S x D): queries from
    the image, keys and values from the text; ``mask`` (B x S) is False at padding."""
    h = layers.LayerNormalization()(x)
    h = layers.MultiHeadAttention(heads, x.shape[-1] // heads)(
        query=h, value=text, key=text, attention_mask=ops.expand_dims(mask, 1))
    return x + h                                                 # residual


def _attend(x, text, mask, heads):
    """Cross-attention on a feature map: its H x W positions are the image tokens."""
    size, width = x.shape[1], x.shape[-1]
    h = cross_attention(layers.Reshape((size * size, width))(x), text, mask, heads)
    return layers.Reshape((size, size, width))(h)


def _inputs(shape=(LATENT_SIZE, LATENT_SIZE, LATENT_CHANNELS)):
    return (keras.Input(shape, name="z_t"),
            keras.Input((), name="t"), keras.Input((TOKENS,), dtype="int32", name="caption"))


def latent_unet(widths=(64, 128), heads: int = 4, text_dim: int = 64, text_depth: int = 2,
                input_shape=(LATENT_SIZE, LATENT_SIZE, LATENT_CHANNELS)):
    """Chapter 5's U-Net on 8x8 latents, with a cross-attention to the caption after every
    block: inputs ``[z_t, t, caption]``, output like ``z_t``. ``input_shape=(28, 28, 1)``
    builds the same network on pixels (a side divisible by 2 ** len(widths))."""
    if (len(input_shape) != 3 or not all(isinstance(n, int) and n > 0 for n in input_shape)
            or input_shape[0] != input_shape[1] or input_shape[0] % 2 ** len(widths)):
        raise ValueError(f"input_shape must be (side, side, channels) with a side divisible "
                         f"by 2 ** len(widths) = {2 ** len(widths)}; got {input_shape!r}")
    z_in, t_in, ids = _inputs(tuple(input_shape))
    text = text_encoder(text_dim, text_depth, heads)(ids)
    mask = ops.not_equal(ids, 0)
    temb = layers.Dense(4 * text_dim, activation="swish")(diffusion.TimeEmbedding(text_dim)(t_in))
    x = layers.Conv2D(widths[0], 3, padding="same")(z_in)
    skips = []
    for width in widths:
        x = _attend(diffusion._block(x, temb, width), text, mask, heads)
        skips.append(x)
        x = layers.AveragePooling2D(2)(x)
    x = _attend(diffusion._block(x, temb, widths[-1]), text, mask, heads)
    for width, skip in zip(reversed(widths), reversed(skips)):
        x = layers.UpSampling2D(2)(x)
        x = _attend(diffusion._block(layers.Concatenate()([x, skip]), temb, width), text, mask,
                    heads)
    out = layers.Conv2D(input_shape[-1], 1, kernel_initializer="zeros", name="noise")(x)
    return keras.Model([z_in, t_in, ids], out, name="latent_unet")


def _modulate(x, shift, scale):
    """adaLN: a LayerNorm whose shift and scale come from the time step."""
    return layers.LayerNormalization(center=False, scale=False)(x) * (1.0 + scale) + shift


def latent_dit(dim: int = 128, depth: int = 4, heads: int = 4, patch: int = 2,
               text_dim: int = 64, text_depth: int = 2):
    """A DiT-style denoiser: the 8x8 latent cut into ``patch`` x ``patch`` patches, one token
    each (16 tokens for patch 2); ``depth`` blocks of self-attention, cross-attention to the
    caption, MLP. The time step sets each block's LayerNorm shifts and scales and the gates on
    its self-attention and MLP branches (adaLN-Zero: zero-initialised, so those branches
    start switched off); the output layer starts at zero."""
    args.positive_ints(dim=dim, depth=depth, heads=heads)
    args.choice(patch, "patch", (1, 2, 4))
    z_in, t_in, ids = _inputs()
    text = text_encoder(text_dim, text_depth, heads)(ids)
    mask = ops.not_equal(ids, 0)
    c = layers.Dense(dim, activation="swish")(diffusion.TimeEmbedding(dim)(t_in))
    c = ops.expand_dims(layers.Activation("swish")(c), 1)          # B x 1 x dim
    grid = LATENT_SIZE // patch
    x = layers.Conv2D(dim, patch, strides=patch)(z_in)             # patches -> tokens
    x = PositionEmbedding()(layers.Reshape((grid * grid, dim))(x))
    for _ in range(depth):
        shift1, scale1, gate1, shift2, scale2, gate2 = ops.split(
            layers.Dense(6 * dim, kernel_initializer="zeros")(c), 6, axis=-1)
        h = _modulate(x, shift1, scale1)
        x = x + gate1 * layers.MultiHeadAttention(heads, dim // heads)(h, h)
        x = cross_attention(x, text, mask, heads)
        h = layers.Dense(4 * dim, activation="gelu")(_modulate(x, shift2, scale2))
        x = x + gate2 * layers.Dense(dim)(h)
    shift, scale = ops.split(layers.Dense(2 * dim, kernel_initializer="zeros")(c), 2, axis=-1)
    x = layers.Dense(patch * patch * LATENT_CHANNELS, kernel_initializer="zeros")(
        _modulate(x, shift, scale))
    x = layers.Reshape((grid, grid, patch, patch, LATENT_CHANNELS))(x)   # tokens -> patches
    x = layers.Permute((1, 3, 2, 4, 5))(x)
    out = layers.Reshape((LATENT_SIZE, LATENT_SIZE, LATENT_CHANNELS), name="noise")(x)
    return keras.Model([z_in, t_in, ids], out, name="latent_dit")


class Autoencoder(keras.Model):
    """28x28 images in [0, 1] <-> 8x8x4 latents. ``fit(images, images)`` trains it to
    reconstruct (mean squared error); :meth:`calibrate` then records the latents' mean and
    spread, so that :meth:`encode` gives latents of mean 0 and standard deviation 1, the scale
    of the diffusion noise (Stable Diffusion multiplies its latents by 0.18215 for the same
    reason)."""

    def __init__(self, latent_channels: int = LATENT_CHANNELS, width: int = 64, **kwargs):
        super().__init__(**kwargs)
        args.positive_ints(latent_channels=latent_channels, width=width)
        conv = functools.partial(layers.Conv2D, padding="same", activation="silu")
        up = functools.partial(layers.Conv2DTranspose, padding="same", activation="silu")
        self.encoder = keras.Sequential([
            keras.Input((28, 28, 1)), layers.ZeroPadding2D(2),           # 32 x 32
            conv(width // 2, 3), conv(width, 3, strides=2), conv(width, 3, strides=2),  # 8 x 8
            layers.Conv2D(latent_channels, 3, padding="same")], name="encoder")
        self.decoder = keras.Sequential([
            keras.Input((LATENT_SIZE, LATENT_SIZE, latent_channels)),
            conv(width, 3), up(width, 3, strides=2), up(width // 2, 3, strides=2),  # 32 x 32
            layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
            layers.Cropping2D(2)], name="decoder")                     # 28 x 28
        self.shift = self.add_weight(shape=(), initializer="zeros", trainable=False, name="shift")
        self.scale = self.add_weight(shape=(), initializer="ones", trainable=False, name="scale")

    def call(self, images):
        return self.decoder(self.encoder(images))

    def calibrate(self, images) -> None:
        z = self.encoder.predict(args.images(images, "images", channels=1), batch_size=512,
                                 verbose=0)
        self.shift.assign(float(z.mean()))
        self.scale.assign(1.0 / float(z.std()))

    def encode(self, images) -> np.ndarray:
        """Images (N x 28 x 28 x 1 in [0, 1]) -> latents (N x 8 x 8 x 4), mean 0 and std 1."""
        z = self.encoder.predict(args.images(images, "images", channels=1), batch_size=512,
                                 verbose=0)
        return (z - float(self.shift)) * float(self.scale)

    def decode(self, latents) -> np.ndarray:
        """Latents (N x 8 x 8 x 4, as :meth:`encode` gives) -> images in [0, 1]."""
        z = np.asarray(latents, "float32")
        want = (LATENT_SIZE, LATENT_SIZE, self.decoder.input_shape[-1])
        if z.ndim != 4 or z.shape[1:] != want:
            raise ValueError(f"latents must have shape (N, {', '.join(map(str, want))}), from "
                             f"encode or a latent diffusion model; got {z.shape}")
        return self.decoder(z / float(self.scale) + float(self.shift), training=False).numpy()


def autoencoder(latent_channels: int = LATENT_CHANNELS, width: int = 64) -> Autoencoder:
    """A built :class:`Autoencoder` (its weights exist, so that they can be loaded)."""
    model = Autoencoder(latent_channels, width)
    model(np.zeros((1, 28, 28, 1), "float32"))
    return model


class TextDiffusion(diffusion.Diffusion):
    """Chapter 5's :class:`~cvbook.diffusion.Diffusion`, with three things changed: the data
    are the autoencoder's latents (sampling does not clip them to [-1, 1]; the samples are
    decoded to images), the condition is a caption's token ids, and caption dropout replaces a
    caption by the empty one (the start token alone) with probability ``caption_dropout``.
    ``fit(latents, token_ids)`` trains; ``sample(prompts, guidance=w)`` generates.
    ``autoencoder=None`` diffuses pixels instead, as chapter 5 does: ``fit(images, token_ids)``
    (the chapter times the two against each other)."""

    def __init__(self, network, schedule, autoencoder: Autoencoder | None,
                 caption_dropout: float = 0.1, **kwargs):
        super().__init__(network, schedule, label_dropout=caption_dropout, **kwargs)
        if autoencoder is not None and not isinstance(autoencoder, Autoencoder):
            raise TypeError(f"autoencoder must be an Autoencoder (t2i.autoencoder() or "
                            f"checkpoints.load('autoencoder')) or None for pixels; got "
                            f"{type(autoencoder).__name__}")
        self.autoencoder = autoencoder
        self.clip = autoencoder is None              # latents have no range to clip to
        self.null_caption = tf.constant(tokenize("")[0])

    @property
    def conditional(self) -> bool:
        return True

    def to_model_space(self, latents):
        if self.autoencoder is None:
            return super().to_model_space(latents)                # pixels: [0, 1] -> [-1, 1]
        return latents

    def from_model_space(self, x):
        if self.autoencoder is None:
            return super().from_model_space(x)
        return self.autoencoder.decode(x)

    def drop_condition(self, token_ids, drop):
        return tf.where(drop[:, None], self.null_caption[None, :], token_ids)

    def sample(self, prompts, steps: int | None = 50, method: str = "ddim", seed: int = 0,
               guidance: float = 0.0, keep: int = 0, progress: bool = False):
        """One image per prompt (a string or a list); ``guidance`` w >= 0: the guided noise
        is (1 + w) * eps(caption) - w * eps(empty caption). ``""`` asks for no caption."""
        ids = tokenize(prompts)
        return super().sample(len(ids), steps, method, seed, labels=ids, guidance=guidance,
                              keep=keep, progress=progress)

    def _checked_sample_args(self, n, steps, method, seed, labels, guidance, keep):
        args.integer(seed, "seed", 0)
        args.integer(keep, "keep", 0)
        args.integer(steps, "steps", 1, self.schedule.T, none=True)
        args.choice(method, "method", ("ddpm", "ddim"))
        args.number(guidance, "guidance", 0.0)
        return n, labels, np.repeat(tokenize(""), n, 0)


def prompt(cls: int, tone: int, size: int) -> str:
    """The prompt that asks for a class, a tone and a size (0 or 1, as in
    :func:`cvbook.captions.attributes`): ``prompt(9, 0, 1)`` is "a dark large ankle boot"."""
    return (f"a {captions.ATTRIBUTES['tone'][tone]} {captions.ATTRIBUTES['size'][size]} "
            f"{captions.CLASS_WORDS[cls]}")


def test_combinations() -> list[tuple[int, int, int]]:
    """Every (class, tone, size) of the classes in :data:`cvbook.captions.HELD_OUT`: 20
    combinations, 5 held out of training and 15 seen in it."""
    classes = sorted({c for c, _, _ in captions.HELD_OUT})
    return [(c, tone, size) for c in classes for tone in (0, 1) for size in (0, 1)]


def follows(images, prompts, thresholds, scorer) -> dict[str, np.ndarray]:
    """For each image, whether it shows what its prompt asked: ``"class"`` (the ``scorer``'s
    prediction) and each attribute asked (measured as the captions were, with the training
    set's ``thresholds``); 1.0 or 0.0, NaN where the prompt did not ask."""
    asked = [captions.parse(p) for p in prompts]
    classes = np.array([c for c, _ in asked])
    measured = captions.attributes(images, classes, thresholds)
    out = {"class": (scorer.predict(images) == classes).astype("float64")}
    for j, name in enumerate(captions.ATTRIBUTES):
        out[name] = np.array([float(m[j] == a[name]) if name in a else np.nan
                              for m, (_, a) in zip(measured, asked)])
    return out
