"""Checks for the diffusion lab: schedule, forward noising, loss and one reverse step.

Each check runs the learner's function on random inputs and compares it with the reference in
:mod:`cvbook.diffusion`. When the answer is wrong, it is also compared with the classic
mistakes, so the hint can name the one that was made.
"""

from __future__ import annotations

import numpy as np

from . import expect, passed, require

T, BETA_START, BETA_END = 50, 1e-4, 0.2


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5)


def _diagnose(got, reference, mistakes: dict[str, np.ndarray], what: str) -> None:
    got = np.asarray(require(got, what), dtype="float64")
    ref = np.asarray(reference, dtype="float64")
    expect(got.shape == ref.shape, f"{what} returned shape {got.shape}; expected {ref.shape}.")
    if _close(got, ref):
        return
    for hint, wrong in mistakes.items():
        expect(not _close(got, wrong), hint)
    expect(False, f"{what} does not match the reference (largest difference "
           f"{np.abs(got - ref).max():.3g}). Compare your formula with the one above, term by term.")


def _schedule():
    from ..diffusion import Schedule

    return Schedule(np.linspace(BETA_START, BETA_END, T))


def check_schedule(make_schedule) -> None:
    """betas linear; alphas = 1 - betas in (0, 1]; alpha_bars their running product."""
    require(make_schedule, "make_schedule")
    out = require(make_schedule(T, BETA_START, BETA_END), "make_schedule(...)")
    expect(isinstance(out, (tuple, list)) and len(out) == 3,
           "make_schedule should return three arrays: (betas, alphas, alpha_bars).")
    betas, alphas, alpha_bars = (np.asarray(require(a, "make_schedule(...)"), "float64")
                                 for a in out)
    ref = _schedule()
    for name, arr in (("betas", betas), ("alphas", alphas), ("alpha_bars", alpha_bars)):
        expect(arr.shape == (T,), f"{name} has shape {arr.shape}; with T={T} it should be ({T},).")
    expect(_close(betas, ref.betas), "betas should go linearly from beta_start to beta_end "
           "in T steps: np.linspace(beta_start, beta_end, T).")
    expect(np.all(np.diff(betas) > 0), "betas should increase: more noise at later steps.")
    expect(np.all((alphas > 0) & (alphas <= 1)), "alphas must lie in (0, 1]: alphas = 1 - betas.")
    expect(_close(alphas, ref.alphas), "alphas = 1 - betas.")
    expect(not _close(alpha_bars, np.cumsum(ref.alphas)),
           "alpha_bars is a running *product* (np.cumprod), not a running sum.")
    expect(not _close(alpha_bars, np.cumprod(ref.betas)),
           "alpha_bars multiplies the alphas (the signal kept), not the betas.")
    expect(_close(alpha_bars, ref.alpha_bars), "alpha_bars[t] = alphas[0] * ... * alphas[t]: "
           "np.cumprod(alphas).")
    expect(np.all(np.diff(alpha_bars) < 0), "alpha_bars should decrease: the signal fades.")
    passed(f"schedule: betas rise from {betas[0]:g} to {betas[-1]:g}; alpha_bars fall from "
           f"{alpha_bars[0]:.4f} to {alpha_bars[-1]:.4f}")


def _inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-1, 1, (6, 4, 4, 1))
    noise = rng.normal(size=x0.shape)
    t = np.array([0, 1, 7, 20, 33, T - 1])
    return x0, t, noise


def _wrong_q(x0, t, noise, ab):
    """The classic mistakes of the closed form, each with its hint."""
    col = lambda a: np.asarray(a)[t].reshape(-1, 1, 1, 1)
    a = col(ab)
    return {
        "No square roots: the closed form uses sqrt(alpha_bar) * x0 + sqrt(1 - alpha_bar) * noise "
        "(alpha_bar and 1 - alpha_bar are *variances*).": a * x0 + (1 - a) * noise,
        "Only the signal's coefficient has its square root; the noise's needs one too: "
        "sqrt(1 - alpha_bar).": np.sqrt(a) * x0 + (1 - a) * noise,
        "Only the noise's coefficient has its square root; the signal's needs one too: "
        "sqrt(alpha_bar).": a * x0 + np.sqrt(1 - a) * noise,
        "Off by one step: use alpha_bars[t], not alpha_bars[t - 1].":
            np.sqrt(col(np.roll(ab, 1))) * x0 + np.sqrt(1 - col(np.roll(ab, 1))) * noise,
        "Off by one step: use alpha_bars[t], not alpha_bars[t + 1].":
            np.sqrt(col(np.roll(ab, -1))) * x0 + np.sqrt(1 - col(np.roll(ab, -1))) * noise,
        "The signal and the noise have swapped coefficients.":
            np.sqrt(1 - a) * x0 + np.sqrt(a) * noise,
    }


def check_q_sample(q_sample) -> None:
    """x_t = sqrt(alpha_bars[t]) x0 + sqrt(1 - alpha_bars[t]) noise, one t per image."""
    from ..diffusion import q_sample as reference

    require(q_sample, "q_sample")
    ab = _schedule().alpha_bars
    x0, t, noise = _inputs()
    _diagnose(q_sample(x0, t, noise, ab), reference(x0, t, noise, ab),
              _wrong_q(x0, t, noise, ab), "q_sample(...)")
    passed("q_sample matches the closed form at every step")


def _toy_model():
    """A fixed 'noise predictor' for the checks: any deterministic function of (x_t, t) works."""
    def eps_model(x_t, t):
        t = np.asarray(t, dtype="float64").reshape(-1, 1, 1, 1)
        return np.tanh(0.7 * np.asarray(x_t) + 0.01 * t)
    return eps_model


def check_loss(diffusion_loss) -> None:
    """Mean squared error between the model's prediction on x_t and the true noise."""
    from ..diffusion import diffusion_loss as reference, q_sample

    require(diffusion_loss, "diffusion_loss")
    ab = _schedule().alpha_bars
    x0, t, noise = _inputs(1)
    model = _toy_model()
    x_t = q_sample(x0, t, noise, ab)
    got = diffusion_loss(model, x0, t, noise, ab)
    pred = model(x_t, t)
    _diagnose(got, reference(model, x0, t, noise, ab), {
        "The loss compares the prediction with x0, but the model predicts the *noise*: "
        "the target is `noise`.": np.mean((pred - x0) ** 2),
        "The model should see the noisy image x_t (from q_sample), not the clean x0.":
            np.mean((model(x0, t) - noise) ** 2),
        "Use the mean squared error, not the mean absolute error.": np.mean(np.abs(pred - noise)),
        "Use the mean of the squared errors, not their sum.": np.sum((pred - noise) ** 2),
    }, "diffusion_loss(...)")
    passed("diffusion_loss: the model sees x_t and is scored on the noise")


def check_reverse_step(reverse_step) -> None:
    """One DDPM step x_t -> x_{t-1} with sigma_t^2 = beta_t, and no noise at t = 0."""
    from ..diffusion import ddpm_step

    require(reverse_step, "reverse_step")
    s = _schedule()
    rng = np.random.default_rng(2)
    for t in (T - 1, 17, 1, 0):
        x_t = rng.normal(size=(3, 4, 4, 1))
        eps = rng.normal(size=x_t.shape)
        z = rng.normal(size=x_t.shape)
        b, a, ab = s.betas[t], s.alphas[t], s.alpha_bars[t]
        add = np.sqrt(b) * z if t > 0 else 0.0
        mistakes = {
            "sqrt(1 - alpha_bar) divides beta in the noise term, not (1 - alpha_bar).":
                (x_t - b / (1 - ab) * eps) / np.sqrt(a) + add,
            "Divide by sqrt(alpha_t), not by alpha_t.": (x_t - b / np.sqrt(1 - ab) * eps) / a + add,
            "The rescaling uses this step's alpha_t, not alpha_bar_t.":
                (x_t - b / np.sqrt(1 - ab) * eps) / np.sqrt(ab) + add,
            "The fresh noise is scaled by sigma_t = sqrt(beta_t), not beta_t.":
                (x_t - b / np.sqrt(1 - ab) * eps) / np.sqrt(a) + (b * z if t > 0 else 0.0),
            "No fresh noise at the last step (t = 0): return the mean there.":
                (x_t - b / np.sqrt(1 - ab) * eps) / np.sqrt(a) + np.sqrt(b) * z,
        }
        if t > 0:
            b1, a1, ab1 = s.betas[t - 1], s.alphas[t - 1], s.alpha_bars[t - 1]
            mistakes["Off by one step: use betas[t], alphas[t] and alpha_bars[t]."] = \
                (x_t - b1 / np.sqrt(1 - ab1) * eps) / np.sqrt(a1) + np.sqrt(b1) * z
        got = reverse_step(x_t, t, eps, s.betas, s.alphas, s.alpha_bars, z)
        _diagnose(got, ddpm_step(x_t, t, eps, s, z), mistakes, f"reverse_step(..., t={t}, ...)")
    passed("reverse_step matches DDPM, including the last step without noise")
