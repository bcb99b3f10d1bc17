"""Checks for the translation lab: the losses of pix2pix and CycleGAN, written by hand.

Each check runs the learner's function on small cases built so that every classic mistake
gives its own wrong answer, compares with the right value, and when the answer is wrong,
computes what each known mistake would have returned: the one that matches is named.
"""

from __future__ import annotations

import numpy as np

from . import LabCheckError, call, expect, guarded, passed, require


def _number(value, name: str) -> float:
    try:
        arr = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise LabCheckError(f"{name} should return one number (a scalar tensor), got "
                            f"{type(value).__name__}.") from None
    expect(arr.size == 1, f"{name} should return one number, the mean over the batch; yours "
           f"has shape {arr.shape}: take the mean (keras.ops.mean) of the whole batch.")
    value = float(arr.reshape(()))
    expect(np.isfinite(value), f"{name} returned {value}: is a log taken of 0?")
    return value


def _named(mistakes: dict, got: float, want: float) -> None:
    """Raise the hint of the first mistake whose value matches ``got``; else a generic one."""
    for hint, value in mistakes.items():
        if abs(value - got) < 1e-4 * max(1.0, abs(value)):
            raise LabCheckError(hint)
    raise LabCheckError(f"Expected {want:.4f} on the check's example, got {got:.4f}.")


def _bce(label: float, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-(label * np.log(p) + (1 - label) * np.log(1 - p))))


# --- Exercise 1: the conditional critic's input -----------------------------------------------

@guarded
def check_critic_input(critic_input) -> None:
    """``critic_input(sketches, images)``, both (n, 28, 28, 1) -> (n, 28, 28, 2), the sketch
    in channel 0 and the image in channel 1."""
    rng = np.random.default_rng(0)
    sketches = (rng.uniform(size=(3, 28, 28, 1)) > 0.7).astype("float32")
    images = rng.uniform(size=(3, 28, 28, 1)).astype("float32")
    got = np.asarray(call(critic_input, "critic_input", sketches, images), "float32")
    expect(got.shape != images.shape or not np.allclose(got, images),
           "critic_input returns the image alone: that is an *unconditional* critic. It would "
           "accept any realistic garment, even one that ignores the sketch. Give it the pair: "
           "the sketch and the image side by side in the channels.")
    expect(got.shape != (6, 28, 28, 1),
           "critic_input stacks the sketches and the images along the batch axis (6 images "
           "of 1 channel): the critic then judges each alone. Concatenate along the channel "
           "axis, axis=-1, so that each input holds one sketch *and* its image.")
    expect(got.shape == (3, 28, 28, 2), f"critic_input should return shape (3, 28, 28, 2) "
           f"for 3 sketches and 3 images, got {got.shape}.")
    expect(not (np.allclose(got[..., 0], images[..., 0])
                and np.allclose(got[..., 1], sketches[..., 0])),
           "critic_input puts the image first and the sketch second. The order is arbitrary, "
           "but it must be the same for real and fake pairs and here the lab's critic reads "
           "the sketch in channel 0: concatenate [sketches, images].")
    expect(np.allclose(got[..., 0], sketches[..., 0]) and np.allclose(got[..., 1],
                                                                        images[..., 0]),
           "critic_input should hold the sketch in channel 0 and the image in channel 1, "
           "unchanged (keras.ops.concatenate([sketches, images], axis=-1)).")
    passed("critic_input gives the critic the pair: sketch in channel 0, image in channel 1")


# --- Exercise 2: pix2pix's generator loss -------------------------------------------------------

def _generator_case():
    rng = np.random.default_rng(1)
    p_fake = rng.uniform(0.1, 0.9, (2, 7, 7, 1)).astype("float32")
    fake = rng.uniform(size=(2, 28, 28, 1)).astype("float32")
    sketch = (rng.uniform(size=(2, 28, 28, 1)) > 0.7).astype("float32")
    target = rng.uniform(size=(2, 28, 28, 1)).astype("float32")
    return p_fake, fake, sketch, target


@guarded
def check_generator_loss(generator_loss) -> None:
    """``generator_loss(p_fake, fake, sketch, target, l1_weight)`` -> binary cross-entropy of
    ``p_fake`` against 1, plus ``l1_weight`` times the mean absolute error of fake vs target."""
    p_fake, fake, sketch, target = _generator_case()
    weight = 10.0
    adversarial = _bce(1.0, p_fake)
    l1 = float(np.mean(np.abs(fake - target)))
    want = adversarial + weight * l1
    got = _number(call(generator_loss, "generator_loss", p_fake, fake, sketch, target, weight),
                  "generator_loss")
    if abs(got - want) > 1e-3 * max(1.0, abs(want)):
        _named({
            "The L1 term compares the fake with the *sketch*, its input. The generator is then "
            "pushed to copy the edges; compare it with the target garment instead.":
                adversarial + weight * float(np.mean(np.abs(fake - sketch))),
            "l1_weight multiplies the adversarial term instead of the L1 term: pix2pix's loss "
            "is adversarial + l1_weight * L1.": weight * adversarial + l1,
            "The adversarial term labels the fakes 0 ('fake'): that is the discriminator's "
            "target. The generator wants its fakes called real, label 1 "
            "(the non-saturating loss of chapter 4).": _bce(0.0, p_fake) + weight * l1,
            "The loss has no adversarial term: that is the L1-only baseline, not pix2pix. Add "
            "the binary cross-entropy of p_fake against 1.": weight * l1,
            "The loss has no L1 term: without it nothing ties the output to this sketch's "
            "garment. Add l1_weight * mean(|target - fake|).": adversarial,
            "The pixel term squares the differences (L2): pix2pix uses the mean *absolute* "
            "difference, which blurs less.":
                adversarial + weight * float(np.mean((fake - target) ** 2)),
        }, got, want)
    zero = _number(call(generator_loss, "generator_loss", p_fake, fake, sketch, target, 0.0),
                   "generator_loss")
    expect(abs(zero - adversarial) < 1e-3, "With l1_weight=0 the loss should be the "
           "adversarial term alone: is l1_weight used, or a fixed number?")
    passed(f"generator_loss = adversarial ({adversarial:.3f}) + l1_weight * L1 ({l1:.3f}) on "
           f"the check's example")


# --- Exercise 3: the cycle and identity losses --------------------------------------------------

def _domains():
    rng = np.random.default_rng(2)
    a = rng.uniform(size=(2, 8, 8, 1)).astype("float32")
    b = rng.uniform(size=(2, 8, 8, 1)).astype("float32")
    to_b = lambda x: 0.5 * np.asarray(x) + 0.1  # noqa: E731 - two toy "generators"
    to_a = lambda x: np.asarray(x) ** 2  # noqa: E731
    return a, b, to_b, to_a


def _mae(x, y) -> float:
    return float(np.mean(np.abs(np.asarray(x) - np.asarray(y))))


@guarded
def check_cycle_loss(cycle_loss) -> None:
    """``cycle_loss(real_a, to_b, to_a)`` -> mean |to_a(to_b(real_a)) - real_a|."""
    a, _, to_b, to_a = _domains()
    want = _mae(to_a(to_b(a)), a)
    got = _number(call(cycle_loss, "cycle_loss", a, to_b, to_a), "cycle_loss")
    if abs(got - want) > 1e-4:
        _named({
            "cycle_loss compares to_b(real_a) with real_a: that is one way, not a round trip. "
            "Send real_a to B and back, to_a(to_b(real_a)), and compare *that* with real_a.":
                _mae(to_b(a), a),
            "cycle_loss applies the generators in the wrong order, to_b(to_a(real_a)): an A "
            "image goes to B with to_b first, then back with to_a.": _mae(to_b(to_a(a)), a),
            "cycle_loss compares the round trip with to_b(real_a), the translation: compare "
            "it with real_a, the image it started from.": _mae(to_a(to_b(a)), to_b(a)),
            "cycle_loss squares the differences: CycleGAN's cycle loss is the mean *absolute* "
            "difference (L1).": float(np.mean((to_a(to_b(a)) - a) ** 2)),
        }, got, want)
    passed("cycle_loss compares real_a with its round trip to_a(to_b(real_a))")


@guarded
def check_identity_loss(identity_loss) -> None:
    """``identity_loss(real_b, to_b, to_a)`` -> mean |to_b(real_b) - real_b|."""
    _, b, to_b, to_a = _domains()
    want = _mae(to_b(b), b)
    got = _number(call(identity_loss, "identity_loss", b, to_b, to_a), "identity_loss")
    if abs(got - want) > 1e-4:
        _named({
            "identity_loss uses to_a on real_b: the identity loss asks the generator *into* B "
            "(to_b) to leave an image that is already in B unchanged.": _mae(to_a(b), b),
            "identity_loss makes a round trip: that is the cycle loss. Apply to_b once to "
            "real_b and compare with real_b.": _mae(to_a(to_b(b)), b),
            "identity_loss squares the differences: use the mean absolute difference (L1).":
                float(np.mean((to_b(b) - b) ** 2)),
        }, got, want)
    passed("identity_loss compares real_b with to_b(real_b)")


# --- Exercise 4: the generator's step -----------------------------------------------------------

@guarded
def check_generator_step(generator_step) -> None:
    """``generator_step(sketch, target, generator, critic, optimizer, l1_weight)`` updates
    the generator's weights only and returns the generator's loss."""
    import keras

    from .. import translation
    from ..seed import set_seed

    set_seed(0)
    generator = translation.unet_generator(28, width=4)
    critic = translation.patch_discriminator(28, channels=2, condition_channels=0, width=4)
    rng = np.random.default_rng(3)
    sketch = (rng.uniform(size=(4, 28, 28, 1)) > 0.7).astype("float32")
    target = rng.uniform(size=(4, 28, 28, 1)).astype("float32")
    g_before = [w.numpy().copy() for w in generator.trainable_weights]
    c_before = [w.numpy().copy() for w in critic.trainable_weights]
    optimizer = keras.optimizers.Adam(1e-3)
    loss = _number(call(generator_step, "generator_step", sketch, target, generator, critic,
                         optimizer, 10.0), "generator_step")
    expect(all(np.allclose(w.numpy(), b) for w, b in zip(critic.trainable_weights, c_before)),
           "generator_step changed the critic's weights: its gradients reached the critic. In "
           "the generator's step only generator.trainable_variables get gradients and "
           "updates; the critic is only *used* to score the fakes.")
    expect(any(not np.allclose(w.numpy(), b)
               for w, b in zip(generator.trainable_weights, g_before)),
           "generator_step left the generator's weights unchanged: compute the gradients of "
           "the loss with respect to generator.trainable_variables inside the tape, then "
           "optimizer.apply_gradients(zip(grads, generator.trainable_variables)).")
    expect(loss > 0, f"generator_step returned {loss}: return the generator's loss.")
    passed("generator_step updates the generator and leaves the critic alone")


# --- Exercise 5: where to score ----------------------------------------------------------------

@guarded
def check_held_out(eval_sketches, x_train_sketches, x_test_sketches) -> None:
    """The sketches a translation is scored on are the test ones, not the training ones."""
    require(eval_sketches, "eval_sketches")
    got = np.asarray(eval_sketches)
    train, test = np.asarray(x_train_sketches), np.asarray(x_test_sketches)
    expect(not (got.shape == train.shape and np.array_equal(got, train)),
           "eval_sketches are the *training* sketches: the generator has seen their garments, "
           "and a score on them rewards memorising. Score it on the test sketches.")
    expect(got.shape == test.shape and np.array_equal(got, test),
           f"eval_sketches should be the test sketches (shape {test.shape}), got shape "
           f"{got.shape}.")
    passed("the generator is scored on held-out test sketches")


@guarded
def check_translation(made, garments, x_train, max_ratio: float) -> float:
    """The generator's held-out L1 error is below ``max_ratio`` times that of the best constant
    answer (the per-pixel median of the training garments). Returns the ratio."""
    made, garments = np.asarray(made, "float32"), np.asarray(garments, "float32")
    expect(made.shape == garments.shape, f"the generated garments have shape {made.shape} "
           f"but the true ones {garments.shape}: translate every evaluation sketch.")
    error = float(np.mean(np.abs(made - garments)))
    median = float(np.mean(np.abs(np.median(x_train, 0, keepdims=True) - garments)))
    ratio = error / median
    expect(ratio < max_ratio, f"Held-out L1 error {error:.3f}: {ratio:.2f} times that of "
           f"always drawing the median garment ({median:.3f}); it should be below "
           f"{max_ratio:g} times. Did every check above pass? Is the generator's step applied "
           f"in the loop?")
    passed(f"held-out L1 error {error:.3f}, {ratio:.2f} times the median garment's "
           f"{median:.3f}")
    return ratio
