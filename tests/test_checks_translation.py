"""The translation lab's checks accept the right answers and name each classic mistake. The
answers are written as a learner would (the lab's solution), each wrong one with one mistake."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvbook.checks import translation as checks

bce = keras.losses.BinaryCrossentropy()
ops = keras.ops


# --- 1: the critic's input ---------------------------------------------------------------------

def test_critic_input_accepts_the_solution(capsys):
    checks.check_critic_input(lambda s, x: ops.concatenate([s, x], axis=-1))
    assert "sketch in channel 0" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (lambda s, x: x, "that is an *unconditional* critic"),
    (lambda s, x: ops.concatenate([s, x], axis=0), "along the batch axis"),
    (lambda s, x: ops.concatenate([x, s], axis=-1), "puts the image first"),
    (lambda s, x: ops.concatenate([s, x, x], axis=-1), "should return shape (3, 28, 28, 2)"),
    (None, "`critic_input` is still a TODO"),
])
def test_critic_input_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_critic_input(answer), hint)


# --- 2: the generator's loss -------------------------------------------------------------------

def make_loss(target_of_l1="target", weight_on="l1", label=1.0, adversarial=True, l1=True,
              square=False):
    def generator_loss(p_fake, fake, sketch, target, l1_weight):
        reference = target if target_of_l1 == "target" else sketch
        diff = (fake - reference) ** 2 if square else ops.abs(fake - reference)
        pixel = ops.mean(diff) if l1 else 0.0
        adv = bce(ops.ones_like(p_fake) * label, p_fake) if adversarial else 0.0
        return (l1_weight * adv + pixel) if weight_on == "adversarial" else \
            (adv + l1_weight * pixel)
    return generator_loss


def test_generator_loss_accepts_the_solution(capsys):
    checks.check_generator_loss(make_loss())
    assert "l1_weight * L1" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (make_loss(target_of_l1="sketch"), "compares the fake with the *sketch*"),
    (make_loss(weight_on="adversarial"), "multiplies the adversarial term"),
    (make_loss(label=0.0), "labels the fakes 0"),
    (make_loss(adversarial=False), "has no adversarial term"),
    (make_loss(l1=False), "has no L1 term"),
    (make_loss(square=True), "squares the differences (L2)"),
    (lambda p, f, s, t, w: ops.abs(f - t), "should return one number"),
    (lambda p, f, s, t, w: None, "returned None"),
])
def test_generator_loss_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_generator_loss(answer), hint)


def test_a_fixed_weight_is_caught(rejects):
    fixed = lambda p, f, s, t, w: make_loss()(p, f, s, t, 10.0)  # noqa: E731
    rejects(lambda: checks.check_generator_loss(fixed), "With l1_weight=0")


# --- 3: cycle and identity -----------------------------------------------------------------------

def mae(x, y):
    return ops.mean(ops.abs(x - y))


def test_cycle_and_identity_accept_the_solution():
    checks.check_cycle_loss(lambda a, to_b, to_a: mae(to_a(to_b(a)), a))
    checks.check_identity_loss(lambda b, to_b, to_a: mae(to_b(b), b))


@pytest.mark.parametrize("answer, hint", [
    (lambda a, to_b, to_a: mae(to_b(a), a), "that is one way, not a round trip"),
    (lambda a, to_b, to_a: mae(to_b(to_a(a)), a), "in the wrong order"),
    (lambda a, to_b, to_a: mae(to_a(to_b(a)), to_b(a)), "compares the round trip with to_b"),
    (lambda a, to_b, to_a: ops.mean((to_a(to_b(a)) - a) ** 2), "squares the differences"),
])
def test_cycle_loss_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_cycle_loss(answer), hint)


@pytest.mark.parametrize("answer, hint", [
    (lambda b, to_b, to_a: mae(to_a(b), b), "uses to_a on real_b"),
    (lambda b, to_b, to_a: mae(to_a(to_b(b)), b), "that is the cycle loss"),
    (lambda b, to_b, to_a: ops.mean((to_b(b) - b) ** 2), "squares the differences"),
])
def test_identity_loss_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_identity_loss(answer), hint)


# --- 4: the generator's step ---------------------------------------------------------------------

def make_step(variables="generator", apply=True):
    def generator_step(sketch, target, generator, critic, optimizer, l1_weight):
        with tf.GradientTape() as tape:
            fake = generator(sketch, training=True)
            p_fake = critic(ops.concatenate([sketch, fake], axis=-1), training=True)
            loss = make_loss()(p_fake, fake, sketch, target, l1_weight)
        chosen = generator.trainable_variables + (
            critic.trainable_variables if variables == "both" else [])
        if apply:
            optimizer.apply_gradients(zip(tape.gradient(loss, chosen), chosen))
        return loss
    return generator_step


def test_generator_step_accepts_the_solution(capsys):
    checks.check_generator_step(make_step())
    assert "leaves the critic alone" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (make_step(variables="both"), "changed the critic's weights"),
    (make_step(apply=False), "left the generator's weights unchanged"),
])
def test_generator_step_names_the_mistake(answer, hint, rejects):
    rejects(lambda: checks.check_generator_step(answer), hint)


# --- 5: where to score, and the outcome ----------------------------------------------------------

def test_held_out_rejects_the_training_sketches(rejects):
    train, test = np.zeros((5, 4, 4, 1)), np.ones((3, 4, 4, 1))
    checks.check_held_out(test, train, test)
    rejects(lambda: checks.check_held_out(train, train, test), "are the *training* sketches")
    rejects(lambda: checks.check_held_out(None, train, test), "`eval_sketches` is still a TODO")


def test_translation_outcome_compares_with_the_median_garment(rejects):
    rng = np.random.default_rng(0)
    x_train = rng.uniform(size=(50, 4, 4, 1)).astype("float32")
    truth = rng.uniform(size=(10, 4, 4, 1)).astype("float32")
    assert checks.check_translation(truth + 0.01, truth, x_train, 0.75) < 0.1
    median = np.broadcast_to(np.median(x_train, 0, keepdims=True), truth.shape)
    rejects(lambda: checks.check_translation(median, truth, x_train, 0.75),
            "1.00 times that of always drawing the median garment")
    rejects(lambda: checks.check_translation(truth[:5], truth, x_train, 0.75),
            "translate every evaluation sketch")
