"""The diffusion lab's checks accept the reference and reject the classic mistakes by name."""


import numpy as np
import pytest

from cvbook import diffusion as dm
from cvbook.checks import diffusion as checks


def schedule_ok(T, b0, b1):
    betas = np.linspace(b0, b1, T)
    return betas, 1 - betas, np.cumprod(1 - betas)


def q_ok(x0, t, noise, ab, shift=0, sqrt=(True, True)):
    a = np.asarray(ab)[np.asarray(t) + shift].reshape(-1, 1, 1, 1)
    s1 = np.sqrt(a) if sqrt[0] else a
    s2 = np.sqrt(1 - a) if sqrt[1] else 1 - a
    return s1 * x0 + s2 * noise


def step_ok(x_t, t, eps, betas, alphas, ab, z, noise_at_0=False, div=np.sqrt):
    mean = (x_t - betas[t] / np.sqrt(1 - ab[t]) * eps) / div(alphas[t])
    return mean + np.sqrt(betas[t]) * z if (t > 0 or noise_at_0) else mean


def test_reference_answers_pass(capsys):
    checks.check_schedule(schedule_ok)
    checks.check_q_sample(q_ok)
    checks.check_loss(dm.diffusion_loss)
    checks.check_reverse_step(step_ok)
    assert capsys.readouterr().out.count("\u2713") == 4



@pytest.mark.parametrize("make, hint", [
    (lambda T, b0, b1: None, "still a TODO"),
    (lambda T, b0, b1: (schedule_ok(T, b0, b1)[0], schedule_ok(T, b0, b1)[1],
                        np.cumsum(1 - np.linspace(b0, b1, T))), "running *product*"),
    (lambda T, b0, b1: (schedule_ok(T, b0, b1)[0], schedule_ok(T, b0, b1)[1],
                        np.cumprod(np.linspace(b0, b1, T))), "not the betas"),
    (lambda T, b0, b1: schedule_ok(T, b1, b0), "linearly from beta_start"),
])
def test_schedule_mistakes(make, hint, rejects):
    rejects(lambda: checks.check_schedule(make), hint)


@pytest.mark.parametrize("kwargs, hint", [
    (dict(sqrt=(False, False)), "No square roots"),
    (dict(sqrt=(True, False)), "the noise's needs one too"),
    (dict(sqrt=(False, True)), "the signal's needs one too"),
    (dict(shift=-1), "not alpha_bars[t - 1]"),
])
def test_q_sample_mistakes(kwargs, hint, rejects):
    rejects(lambda: checks.check_q_sample(lambda *a: q_ok(*a, **kwargs)), hint)


def test_loss_that_predicts_x0_is_rejected(rejects):
    def loss_x0(model, x0, t, noise, ab):
        return np.mean((model(dm.q_sample(x0, t, noise, ab), t) - x0) ** 2)
    rejects(lambda: checks.check_loss(loss_x0), "the target is `noise`")


@pytest.mark.parametrize("kwargs, hint", [
    (dict(noise_at_0=True), "No fresh noise at the last step"),
    (dict(div=lambda a: a), "Divide by sqrt(alpha_t)"),
])
def test_reverse_step_mistakes(kwargs, hint, rejects):
    rejects(lambda: checks.check_reverse_step(lambda *a: step_ok(*a, **kwargs)), hint)


def test_reverse_step_off_by_one_is_named(rejects):
    def off(x_t, t, eps, betas, alphas, ab, z):
        return step_ok(x_t, max(t - 1, 0), eps, betas, alphas, ab, z) if t > 0 else \
            step_ok(x_t, t, eps, betas, alphas, ab, z)
    rejects(lambda: checks.check_reverse_step(off), "Off by one step")
