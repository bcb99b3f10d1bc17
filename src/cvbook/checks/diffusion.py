"""Checks for the diffusion lab: the chapter's ideas applied to cases it did not show.

- a different schedule (Stable Diffusion's "scaled linear" betas);
- noising an image that is *already* noisy, from step s to a later step t (what image editing
  with a diffusion model needs: SDEdit, RePaint);
- a different training target (v-prediction);
- a reverse step with a different variance (the true posterior's, not beta_t).

Each check runs the learner's function on random inputs and compares it with a private
reference. When the answer is wrong, it is also compared with the classic mistakes, so the hint
can name the one that was made.
"""

from __future__ import annotations

import numpy as np

from . import expect, guarded, passed, require

T, BETA_START, BETA_END = 50, 1e-4, 0.2


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5)


def _as_array(value, what: str) -> np.ndarray:
    value = require(value, what)
    try:
        return np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        expect(False, f"{what} returned {type(value).__name__}; expected a NumPy array.")


def _diagnose(got, reference, mistakes: dict[str, np.ndarray], what: str) -> None:
    got = _as_array(got, what)
    ref = np.asarray(reference, dtype="float64")
    expect(got.shape == ref.shape, f"{what} returned shape {got.shape}; expected {ref.shape}.")
    expect(np.all(np.isfinite(got)), f"{what} contains NaN or inf: a square root of a negative "
           f"number? Check which alpha_bar divides which.")
    if _close(got, ref):
        return
    for hint, wrong in mistakes.items():
        expect(not _close(got, wrong), hint)
    expect(False, f"{what} does not match the reference (largest difference "
           f"{np.abs(got - ref).max():.3g}). Compare your formula with the one above, "
           "term by term.")


def _schedule():
    """The reference answer of exercise 1: (betas, alphas, alpha_bars), scaled linear."""
    betas = np.linspace(np.sqrt(BETA_START), np.sqrt(BETA_END), T) ** 2
    alphas = 1.0 - betas
    return betas, alphas, np.cumprod(alphas)


@guarded
def check_schedule(make_schedule) -> None:
    """Scaled-linear betas; alphas = 1 - betas; alpha_bars their running product."""
    require(make_schedule, "make_schedule")
    out = require(make_schedule(T, BETA_START, BETA_END), "make_schedule(...)")
    expect(isinstance(out, (tuple, list)) and len(out) == 3,
           "make_schedule should return three arrays: (betas, alphas, alpha_bars).")
    betas, alphas, alpha_bars = (_as_array(a, "make_schedule(...)") for a in out)
    ref_b, ref_a, ref_ab = _schedule()
    for name, arr in (("betas", betas), ("alphas", alphas), ("alpha_bars", alpha_bars)):
        expect(arr.shape == (T,), f"{name} has shape {arr.shape}; with T={T} it should be ({T},).")
    expect(not _close(betas, np.linspace(BETA_START, BETA_END, T)),
           "These betas go linearly from beta_start to beta_end: the chapter's linear schedule. "
           "In the scaled-linear schedule the *square roots* go linearly: "
           "np.linspace(sqrt(beta_start), sqrt(beta_end), T) ** 2.")
    expect(not _close(betas, np.linspace(np.sqrt(BETA_START), np.sqrt(BETA_END), T)),
           "Square the evenly spaced square roots: the betas are their squares.")
    expect(_close(betas, ref_b), "betas: np.linspace(sqrt(beta_start), sqrt(beta_end), T) ** 2 "
           "(first beta_start, last beta_end).")
    expect(_close(alphas, ref_a), "alphas = 1 - betas.")
    expect(not _close(alpha_bars, np.cumsum(ref_a)),
           "alpha_bars is a running *product* (np.cumprod), not a running sum.")
    expect(not _close(alpha_bars, np.cumprod(ref_b)),
           "alpha_bars multiplies the alphas (the signal kept), not the betas.")
    expect(_close(alpha_bars, ref_ab), "alpha_bars[t] = alphas[0] * ... * alphas[t]: "
           "np.cumprod(alphas).")
    passed(f"scaled-linear schedule: betas rise from {betas[0]:g} to {betas[-1]:g}; alpha_bars "
           f"fall from {alpha_bars[0]:.4f} to {alpha_bars[-1]:.4f}")


def _col(a, idx):
    return np.asarray(a)[np.asarray(idx)].reshape(-1, 1, 1, 1)


def _renoise(x_s, s, t, noise, alpha_bars):
    """The reference answer of exercise 2: q(x_t | x_s) = N(sqrt(r) x_s, (1 - r) I), with
    r = alpha_bars[t] / alpha_bars[s] (the alphas of the steps s+1 .. t)."""
    r = _col(alpha_bars, t) / _col(alpha_bars, s)
    return np.sqrt(r) * x_s + np.sqrt(1.0 - r) * noise


@guarded
def check_renoise(renoise) -> None:
    """From an image at step s to step t > s: only the noise of steps s+1..t is added."""
    require(renoise, "renoise")
    ab = _schedule()[2]
    rng = np.random.default_rng(3)
    x_s = rng.normal(size=(5, 4, 4, 1))
    noise = rng.normal(size=x_s.shape)
    s, t = np.array([0, 3, 10, 20, 30]), np.array([5, 3, 40, 21, T - 1])
    a_s, a_t = _col(ab, s), _col(ab, t)
    _diagnose(renoise(x_s, s, t, noise, ab), _renoise(x_s, s, t, noise, ab), {
        "x_s already carries the noise of steps 0..s: using alpha_bars[t] alone (the closed "
        "form from a *clean* x0) adds that noise twice. Use the ratio alpha_bars[t] / "
        "alpha_bars[s].": np.sqrt(a_t) * x_s + np.sqrt(1 - a_t) * noise,
        "Divide the alpha_bars, do not subtract them: the alphas of steps s+1..t multiply to "
        "alpha_bars[t] / alpha_bars[s].":
            np.sqrt(1 - (a_s - a_t)) * x_s + np.sqrt(a_s - a_t) * noise,
        "No square roots: the coefficients are sqrt(r) and sqrt(1 - r), with "
        "r = alpha_bars[t] / alpha_bars[s].": (a_t / a_s) * x_s + (1 - a_t / a_s) * noise,
        "The signal and the noise have swapped coefficients.":
            np.sqrt(1 - a_t / a_s) * x_s + np.sqrt(a_t / a_s) * noise,
    }, "renoise(...)")
    passed("renoise: from step s to step t adds exactly the noise of the steps in between")


def _toy_model():
    """A fixed 'network' for the checks: any deterministic function of (x_t, t) works."""
    def model(x_t, t):
        t = np.asarray(t, dtype="float64").reshape(-1, 1, 1, 1)
        return np.tanh(0.7 * np.asarray(x_t) + 0.01 * t)
    return model


def _v_target(x0, t, noise, alpha_bars):
    a = _col(alpha_bars, t)
    return np.sqrt(a) * noise - np.sqrt(1 - a) * x0


def _v_loss(model, x0, t, noise, alpha_bars):
    """The reference answer of exercise 3."""
    a = _col(alpha_bars, t)
    x_t = np.sqrt(a) * x0 + np.sqrt(1 - a) * noise
    return np.mean((model(x_t, t) - _v_target(x0, t, noise, alpha_bars)) ** 2)


@guarded
def check_v_loss(v_loss) -> None:
    """Mean squared error between the model's output on x_t and v = sqrt(ab) eps - sqrt(1-ab) x0."""
    require(v_loss, "v_loss")
    ab = _schedule()[2]
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-1, 1, (6, 4, 4, 1))
    noise = rng.normal(size=x0.shape)
    t = np.array([0, 1, 7, 20, 33, T - 1])
    a = _col(ab, t)
    model = _toy_model()
    x_t = np.sqrt(a) * x0 + np.sqrt(1 - a) * noise
    pred = model(x_t, t)
    v = _v_target(x0, t, noise, ab)
    got = v_loss(model, x0, t, noise, ab)
    _diagnose(got, _v_loss(model, x0, t, noise, ab), {
        "The target is the noise: that is the chapter's epsilon-prediction. Here the model "
        "predicts v = sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x0.":
            np.mean((pred - noise) ** 2),
        "The sign of v is flipped: v = sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x0.":
            np.mean((pred + v) ** 2),
        "The coefficients of v are swapped: noise gets sqrt(alpha_bar), x0 gets "
        "sqrt(1 - alpha_bar).": np.mean((pred - (np.sqrt(1 - a) * noise - np.sqrt(a) * x0)) ** 2),
        "The model should see the noisy image x_t, not the clean x0.":
            np.mean((model(x0, t) - v) ** 2),
        "Use the mean of the squared errors, not their sum.": np.sum((pred - v) ** 2),
        "Use the mean squared error, not the mean absolute error.": np.mean(np.abs(pred - v)),
    }, "v_loss(...)")
    expect(np.ndim(got) == 0, "v_loss should return a single number (np.mean of the errors).")
    passed("v_loss: the model sees x_t and is scored on v")


def _posterior_step(x_t, t, eps, betas, alphas, alpha_bars, z, prev=None):
    """The reference answer of exercise 4 (``prev`` overrides alpha_bar_{t-1}: mistakes)."""
    ab_prev = (alpha_bars[t - 1] if t > 0 else 1.0) if prev is None else prev
    mean = (x_t - betas[t] / np.sqrt(1 - alpha_bars[t]) * eps) / np.sqrt(alphas[t])
    var = (1 - ab_prev) / (1 - alpha_bars[t]) * betas[t]
    return mean + np.sqrt(var) * z


@guarded
def check_reverse_step(reverse_step) -> None:
    """One DDPM step with the posterior variance (1 - ab_{t-1}) / (1 - ab_t) * beta_t."""
    require(reverse_step, "reverse_step")
    betas, alphas, ab = _schedule()
    rng = np.random.default_rng(2)
    for t in (T - 1, 17, 1, 0):
        x_t = rng.normal(size=(3, 4, 4, 1))
        eps = rng.normal(size=x_t.shape)
        z = rng.normal(size=x_t.shape)
        mean = (x_t - betas[t] / np.sqrt(1 - ab[t]) * eps) / np.sqrt(alphas[t])
        var = (1 - (ab[t - 1] if t > 0 else 1.0)) / (1 - ab[t]) * betas[t]
        mistakes = {
            "That is sigma_t^2 = beta_t, the chapter's choice. Here the variance is the true "
            "posterior's: (1 - alpha_bars[t-1]) / (1 - alpha_bars[t]) * betas[t].":
                mean + (np.sqrt(betas[t]) * z if t > 0 else 0.0),
            "The fresh noise is scaled by the standard deviation sqrt(variance), not by the "
            "variance.": mean + var * z,
            "Index the alpha_bars at t - 1 and t (in that order): (1 - alpha_bars[t-1]) / "
            "(1 - alpha_bars[t]).": mean + np.sqrt(
                (1 - ab[t]) / (1 - (ab[t - 1] if t > 0 else 1.0) + 1e-12) * betas[t]) * z,
        }
        if t == 0:
            mistakes["At t = 0, alpha_bars[t - 1] is alpha_bars[-1]: NumPy wraps around to the "
                     "*last* step. alpha_bar before step 0 is 1 (nothing noised yet), so the "
                     "variance there is 0."] = _posterior_step(x_t, 0, eps, betas, alphas, ab, z,
                                                               prev=ab[-1])
        elif t > 1:
            mistakes["Off by one step: use this step's betas[t], alphas[t] and alpha_bars[t] "
                     "(and alpha_bars[t-1] only in the variance)."] = \
                _posterior_step(x_t, t - 1, eps, betas, alphas, ab, z)
        got = reverse_step(x_t, t, eps, betas, alphas, ab, z)
        _diagnose(got, _posterior_step(x_t, t, eps, betas, alphas, ab, z), mistakes,
                  f"reverse_step(..., t={t}, ...)")
    passed("reverse_step: the DDPM mean with the posterior's variance, zero at t = 0")
