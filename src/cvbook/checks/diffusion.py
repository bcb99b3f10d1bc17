"""Checks for the diffusion lab: the chapter's ideas applied to cases it did not show.

- a different schedule (Stable Diffusion's "scaled linear" betas);
- noising an image that is *already* noisy, from step s to a later step t (what image editing
  with a diffusion model needs: SDEdit, RePaint);
- a different training target (v-prediction);
- a reverse step with a different variance (the true posterior's, not beta_t);
- the sampling loop around it, on a data distribution whose ideal denoiser is known exactly,
  then on a small U-Net trained with the learner's schedule.

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


# Exercise 5: the sampling loop. The check's "network" is the ideal noise predictor for data
# that are Gaussian, N(MU, S^2) per pixel: E[eps | x_t] in closed form. A right loop turns pure
# noise into samples with that mean and (nearly) that spread; each classic mistake leaves its
# own trace in the steps the network is asked about or in the samples' statistics.
S, SHAPE, N_SAMPLES = 0.5, (4, 4, 1), 2000
MU = np.linspace(-0.6, 0.6, 16).reshape(1, *SHAPE)


class _Recorder:
    """The ideal noise predictor for N(MU, S^2) data; remembers what it was asked."""

    def __init__(self, alpha_bars):
        self.alpha_bars, self.steps, self.first_x = alpha_bars, [], None

    def __call__(self, x_t, t):
        x_t = np.asarray(x_t, dtype="float64")
        t_arr = np.asarray(t)
        expect(x_t.shape == (N_SAMPLES, *SHAPE), f"eps_model was given x of shape {x_t.shape}; "
               f"expected (n, *shape) = {(N_SAMPLES, *SHAPE)}, the current images.")
        expect(t_arr.ndim == 0 or t_arr.shape == (N_SAMPLES,),
               f"eps_model was given t of shape {t_arr.shape}: pass the step as one int or as "
               "one step per image, np.full(n, t).")
        expect(np.all(t_arr == t_arr.flat[0]), "eps_model was given different steps for the "
               "images of one batch: all images are at the same step t of the loop.")
        step = int(t_arr.flat[0])
        expect(0 <= step < len(self.alpha_bars), f"eps_model was asked about step {step}; steps "
               f"run over 0 .. T-1 = {len(self.alpha_bars) - 1}.")
        if self.first_x is None:
            self.first_x = x_t
        self.steps.append(step)
        a = self.alpha_bars[step]
        return np.sqrt(1 - a) / (a * S ** 2 + 1 - a) * (x_t - np.sqrt(a) * MU)


def _run_sampler(sample, seed):
    betas, alphas, ab = _schedule()
    model, calls = _Recorder(ab), []

    def step(x_t, t, eps_pred, b, a, a_bar, z):
        calls.append(int(t))
        return _posterior_step(np.asarray(x_t, "float64"), int(t), np.asarray(eps_pred),
                               betas, alphas, ab, np.asarray(z, "float64"))

    out = sample(model, step, (betas, alphas, ab), N_SAMPLES, SHAPE, np.random.default_rng(seed))
    return require(out, "sample(...)"), model, calls


@guarded
def check_sampler(sample) -> None:
    """The loop from pure noise at step T-1 down to step 0, a fresh z at each step."""
    require(sample, "sample")
    out, model, calls = _run_sampler(sample, seed=0)
    T_ = len(_schedule()[0])
    expect(model.steps, "sample never called eps_model: at every step, ask it for the noise in "
           "the current images, eps_model(x, t).")
    expect(calls, "sample never called `step`: use the reverse step it is given "
           "(step(x, t, eps, betas, alphas, alpha_bars, z)), so that any step can be plugged in.")
    first = model.first_x
    expect(abs(first.std() - 1) < 0.1 and abs(first.mean()) < 0.1,
           f"The loop starts from images with mean {first.mean():.2f} and spread "
           f"{first.std():.2f}: start from pure noise, rng.normal(size=(n, *shape)) (mean 0, "
           "spread 1), what the noisiest step looks like.")
    want = list(range(T_ - 1, -1, -1))
    if model.steps != want:
        asked = model.steps
        shown = (f"{asked[:3]} ... {asked[-3:]}" if len(asked) > 6 else str(asked))
        expect(not (asked and asked[0] < asked[-1]),
               f"The loop runs forward (steps {shown}): sampling goes backward, from step T-1 "
               "(pure noise) down to step 0, range(T - 1, -1, -1).")
        expect(asked != want[:-1], "The loop stops at step 1: the last step, t = 0, is the one "
               "that removes the final bit of noise. range(T - 1, -1, -1) includes 0.")
        expect(asked != want[1:], "The loop starts at step T-2: pure noise is step T-1, the "
               "first step of the loop. range(T - 1, -1, -1).")
        expect(False, f"eps_model was asked about steps {shown} ({len(asked)} calls); expected "
               f"each step once, {T_ - 1} down to 0.")
    expect(calls == want, f"`step` was called for steps {calls[:3]}...; expected the same steps "
           "as eps_model, each once, with the eps_model's prediction for that step.")
    x = _as_array(out, "sample(...)")
    expect(x.shape == (N_SAMPLES, *SHAPE), f"sample returned shape {x.shape}; expected "
           f"(n, *shape) = {(N_SAMPLES, *SHAPE)}: the images after the last step.")
    expect(np.all(np.isfinite(x)), "sample returned NaN or inf.")
    mean_err, spread = float(np.abs(x.mean(0) - MU[0]).max()), float(x.std(0).mean())
    expect(spread < 1.5, f"The samples spread {spread:.2f} around their mean, the data only "
           f"{S}: is the same z used at every step? Draw a fresh one inside the loop, "
           "rng.normal(size=x.shape).")
    expect(spread > 0.15, f"The samples spread only {spread:.2f} around their mean (the data: "
           f"{S}): the step needs fresh noise z from rng.normal, not zeros. Without it every "
           "sample drifts to the same average image.")
    expect(mean_err < 0.1 and 0.4 < spread < 0.6,
           f"The samples do not follow the data (mean off by up to {mean_err:.2f}, spread "
           f"{spread:.2f}, data {S}). Does each step use the image the previous step returned?")
    again = _as_array(_run_sampler(sample, seed=0)[0], "sample(...)")
    expect(np.array_equal(x, again), "Two runs with the same rng give different images: draw "
           "all randomness from the `rng` argument (rng.normal), not np.random, so that a seed "
           "reproduces a sample.")
    passed(f"sample: pure noise, steps {T_ - 1} down to 0, fresh noise each step; on data "
           f"N(mu, {S}^2) with the ideal denoiser the samples have mean within {mean_err:.2f} "
           f"of mu and spread {spread:.2f}")


@guarded
def check_samples(images, max_ratio: float, seed: int = 0):
    """Images from the trained U-Net and the learner's sampler beat pure noise on the reference
    scorer's Fréchet distance by the factor ``max_ratio``. Returns (score, noise_score)."""
    from .. import metrics

    x = _as_array(images, "images")
    expect(x.ndim == 4 and x.shape[-1] == 1 and len(x) >= 2, f"images has shape {x.shape}; "
           "expected (n, height, width, 1), n >= 2.")
    expect(np.all(np.isfinite(x)), "images contain NaN or inf: did the sampler pass its check?")
    expect(x.min() >= 0 and x.max() <= 1, f"images go from {x.min():.2f} to {x.max():.2f}: "
           "convert the sampler's [-1, 1] to [0, 1] with (x + 1) / 2 and clip.")
    scorer = metrics.reference_scorer()
    score = scorer.score(x)
    noise = np.clip((np.random.default_rng(seed).normal(size=x.shape) + 1) / 2, 0, 1)
    noise_score = scorer.score(noise.astype("float32"))
    expect(score.frechet <= max_ratio * noise_score.frechet,
           f"Fréchet distance {score.frechet:.1f}, pure noise {noise_score.frechet:.1f}: the "
           f"samples should score at most {max_ratio:g} times the noise. Did every check above "
           "pass, and did the training loss go down?")
    passed(f"samples: Fréchet {score.frechet:.1f}, pure noise {noise_score.frechet:.1f} "
           f"(at most {max_ratio:g} times the noise's)")
    return score, noise_score
