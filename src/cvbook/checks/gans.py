"""Checks for the GAN lab: the two networks, the two losses, one training step, a short run."""

from __future__ import annotations

import numpy as np

from . import activation_name as _act
from . import expect, guarded, layers_of as _layers, passed, require

LEAK = 0.2


def _kinds(model) -> list[str]:
    return [type(l).__name__ for l in _layers(model)]


@guarded
def check_generator(make_generator, latent_dim: int, image_size: int) -> None:
    """Spec: Dense > LeakyReLU > Reshape > Conv2DTranspose(32, s2) > LeakyReLU >
    Conv2DTranspose(1, s2, sigmoid)."""
    import keras

    require(make_generator, "make_generator")
    g = require(make_generator(latent_dim, image_size), "make_generator(...)")
    expect(isinstance(g, keras.Model), "make_generator should return a keras.Model "
           "(for example keras.Sequential([...])).")
    expect(tuple(g.input_shape[1:]) == (latent_dim,),
           f"The generator takes input {tuple(g.input_shape[1:])}; it should take noise "
           f"vectors of length latent_dim={latent_dim}: keras.Input(shape=(latent_dim,)).")
    want = ["Dense", "LeakyReLU", "Reshape", "Conv2DTranspose", "LeakyReLU", "Conv2DTranspose"]
    expect(_kinds(g) == want, f"The generator's layers are {_kinds(g)}; the spec is {want}.")
    s = image_size // 4
    dense, _, reshape, up1, _, up2 = _layers(g)
    expect(dense.units == s * s * 64,
           f"The first Dense has {dense.units} units; it must fill a {s}x{s}x64 grid: "
           f"{s * s * 64} units, that is (image_size // 4) ** 2 * 64.")
    for i, up in ((1, up1), (2, up2)):
        expect(tuple(up.strides) == (2, 2) and up.padding == "same",
               f"Conv2DTranspose number {i} has strides {tuple(up.strides)} and padding "
               f"'{up.padding}': use strides=2, padding='same' so that each one doubles the size.")
    expect(up1.filters == 32, f"The first Conv2DTranspose has {up1.filters} filters; the spec "
           f"says 32.")
    expect(up2.filters == 1, f"The last layer makes {up2.filters} channels; grey images need 1.")
    expect(_act(up2) == "sigmoid",
           f"The last layer's activation is {_act(up2)}: use 'sigmoid' so pixels land in [0, 1] "
           f"like the real images.")
    noise = np.random.default_rng(0).normal(size=(5, latent_dim)).astype("float32")
    out = np.asarray(g(noise))
    expect(out.shape == (5, image_size, image_size, 1),
           f"5 noise vectors gave an output of shape {out.shape}; expected "
           f"(5, {image_size}, {image_size}, 1).")
    expect(out.min() >= 0 and out.max() <= 1, "Generated pixels leave [0, 1].")
    passed(f"generator: noise ({latent_dim},) -> image {out.shape[1:]}, pixels in [0, 1], "
           f"{g.count_params():,} parameters")


@guarded
def check_discriminator(make_discriminator, image_size: int) -> None:
    """Spec: Conv2D(32, s2) > LeakyReLU > Conv2D(64, s2) > LeakyReLU > Flatten >
    Dense(1, sigmoid)."""
    import keras

    require(make_discriminator, "make_discriminator")
    d = require(make_discriminator(image_size), "make_discriminator(...)")
    expect(isinstance(d, keras.Model), "make_discriminator should return a keras.Model.")
    want = ["Conv2D", "LeakyReLU", "Conv2D", "LeakyReLU", "Flatten", "Dense"]
    kinds = _kinds(d)
    expect("MaxPooling2D" not in kinds, "The spec has no pooling: a DCGAN discriminator "
           "downsamples with strided convolutions (strides=2).")
    expect(kinds == want, f"The discriminator's layers are {kinds}; the spec is {want}.")
    c1, _, c2, _, _, head = _layers(d)
    for i, (conv, filters) in enumerate(((c1, 32), (c2, 64)), start=1):
        expect(conv.filters == filters and tuple(conv.strides) == (2, 2),
               f"Conv2D number {i} has {conv.filters} filters and strides "
               f"{tuple(conv.strides)}; the spec says {filters} filters, strides=2.")
    expect(head.units == 1 and _act(head) == "sigmoid",
           f"The head is Dense({head.units}, activation={_act(head)!r}); the discriminator "
           f"outputs one probability, 'this image is real': Dense(1, activation='sigmoid').")
    images = np.random.default_rng(0).random((5, image_size, image_size, 1)).astype("float32")
    out = np.asarray(d(images))
    expect(out.shape == (5, 1), f"5 images gave an output of shape {out.shape}; expected (5, 1).")
    expect(np.all((out > 0) & (out < 1)), "The discriminator's outputs should be probabilities.")
    passed(f"discriminator: image -> probability of 'real', {d.count_params():,} parameters")


def _bce(target: float, p) -> float:
    p = np.clip(np.asarray(p, dtype="float64"), 1e-7, 1 - 1e-7)
    return float(np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p))))


@guarded
def check_losses(discriminator_loss, generator_loss) -> None:
    """Both losses against binary cross-entropy on random probabilities, and their direction."""
    require(discriminator_loss, "discriminator_loss")
    require(generator_loss, "generator_loss")
    rng = np.random.default_rng(0)
    p_real = rng.uniform(0.05, 0.95, (16, 1)).astype("float32")
    p_fake = rng.uniform(0.05, 0.95, (16, 1)).astype("float32")
    d = require(discriminator_loss(p_real, p_fake), "discriminator_loss(...)")
    d = float(np.asarray(d))
    want = _bce(1, p_real) + _bce(0, p_fake)
    swapped = _bce(0, p_real) + _bce(1, p_fake)
    expect(not np.isclose(d, swapped, rtol=1e-3),
           "discriminator_loss has the labels swapped: real images are labelled 1, fakes 0.")
    expect(not np.isclose(d, want / 2, rtol=1e-3),
           "discriminator_loss is the mean of the two cross-entropies; the spec (and the "
           "chapter) use their sum.")
    expect(np.isclose(d, want, rtol=1e-3),
           f"discriminator_loss gave {d:.4f}; binary cross-entropy with targets 1 for p_real "
           f"and 0 for p_fake, summed, gives {want:.4f}.")
    g = require(generator_loss(p_fake), "generator_loss(...)")
    g = float(np.asarray(g))
    expect(not np.isclose(g, _bce(0, p_fake), rtol=1e-3),
           "generator_loss uses target 0. That is the discriminator's view of fakes: the "
           "generator wants its fakes called real, target 1.")
    expect(not np.isclose(g, -_bce(0, p_fake), rtol=1e-3),
           "generator_loss is minus the discriminator's loss on fakes (the saturating minimax "
           "form). Use binary cross-entropy with target 1 instead: same goal, strong gradients.")
    expect(np.isclose(g, _bce(1, p_fake), rtol=1e-3),
           f"generator_loss gave {g:.4f}; binary cross-entropy with target 1 gives "
           f"{_bce(1, p_fake):.4f}.")
    low, high = (float(np.asarray(generator_loss(np.full((4, 1), v, "float32"))))
                 for v in (0.1, 0.9))
    expect(high < low, "generator_loss should be lower when the discriminator is fooled.")
    passed("losses: the discriminator's labels real 1 / fake 0; the generator's is lowest when "
           "its fakes pass as real")


def _spy_optimizer():
    """An SGD optimizer that records which variables it is asked to update."""
    import keras

    class Spy(keras.optimizers.SGD):
        def __init__(self):
            super().__init__(learning_rate=0.05)
            self.updated: list = []

        def apply(self, grads, trainable_variables=None):
            variables = trainable_variables if trainable_variables is not None else \
                self._trainable_variables
            self.updated.append([id(v) for v in variables])
            return super().apply(grads, trainable_variables)

    return Spy()


@guarded
def check_train_step(train_step, make_generator, make_discriminator, latent_dim: int,
                     real) -> None:
    """One step: each optimizer updates exactly its own network; both networks change."""
    require(train_step, "train_step")
    g = make_generator(latent_dim, real.shape[1])
    d = make_discriminator(real.shape[1])
    d_opt, g_opt = _spy_optimizer(), _spy_optimizer()
    g_before = [v.numpy().copy() for v in g.trainable_variables]
    d_before = [v.numpy().copy() for v in d.trainable_variables]
    result = train_step(real, g, d, d_opt, g_opt, latent_dim)
    require(result, "train_step(...)")
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           "train_step should return the two losses: (d_loss, g_loss).")
    d_loss, g_loss = (float(np.asarray(x)) for x in result)
    expect(np.isfinite(d_loss) and np.isfinite(g_loss), "The losses are not finite numbers.")
    g_ids = {id(v) for v in g.trainable_variables}
    d_ids = {id(v) for v in d.trainable_variables}
    expect(len(d_opt.updated) == 1, f"d_optimizer was used {len(d_opt.updated)} times in one "
           f"step; phase 1 should call it once.")
    expect(len(g_opt.updated) == 1, f"g_optimizer was used {len(g_opt.updated)} times in one "
           f"step; phase 2 should call it once.")
    d_seen, g_seen = set(d_opt.updated[0]), set(g_opt.updated[0])
    expect(not d_seen & g_ids,
           "In phase 1 the discriminator's optimizer also updated generator weights. Apply its "
           "gradients to discriminator.trainable_variables only.")
    expect(not g_seen & d_ids,
           "In phase 2 the generator's optimizer also updated discriminator weights: the "
           "generator would be helping the discriminator cheat. Apply its gradients to "
           "generator.trainable_variables only.")
    expect(d_seen == d_ids, "Phase 1 should update all of the discriminator's trainable "
           "variables.")
    expect(g_seen == g_ids, "Phase 2 should update all of the generator's trainable variables.")
    expect(any(not np.array_equal(a, v.numpy()) for a, v in zip(d_before, d.trainable_variables)),
           "The discriminator did not change: are its gradients all zero?")
    expect(any(not np.array_equal(a, v.numpy()) for a, v in zip(g_before, g.trainable_variables)),
           "The generator did not change: does phase 2 compute the loss from the "
           "discriminator's opinion of *freshly generated* images, inside the tape?")
    passed(f"one step: each optimizer updated only its own network (d_loss {d_loss:.3f}, "
           f"g_loss {g_loss:.3f})")


@guarded
def check_training_improves(before, after, factor: float = 0.5) -> None:
    """A short run must cut the Fréchet distance at least by ``factor``."""
    expect(after.frechet < factor * before.frechet,
           f"Training moved the Fréchet distance from {before.frechet:.1f} to "
           f"{after.frechet:.1f}; a working GAN cuts it by more than half in this many steps. "
           f"Re-check the losses' targets and which variables each phase updates.")
    passed(f"training works: Fréchet {before.frechet:.1f} -> {after.frechet:.1f}")
