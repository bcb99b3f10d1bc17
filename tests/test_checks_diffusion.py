"""The diffusion lab's checks accept right answers and reject the classic mistakes by name."""

import numpy as np
import pytest

from cvbook import diffusion as dm
from cvbook.checks import diffusion as checks


def schedule_ok(T, b0, b1, square=True):
    roots = np.linspace(np.sqrt(b0), np.sqrt(b1), T)
    betas = roots ** 2 if square else roots
    return betas, 1 - betas, np.cumprod(1 - betas)


def renoise_ok(x_s, s, t, noise, ab, ratio=True):
    col = lambda a, i: np.asarray(a)[np.asarray(i)].reshape(-1, 1, 1, 1)
    r = col(ab, t) / col(ab, s) if ratio else col(ab, t)
    return np.sqrt(r) * x_s + np.sqrt(1 - r) * noise


def v_loss_ok(model, x0, t, noise, ab, target="v"):
    a = np.asarray(ab)[np.asarray(t)].reshape(-1, 1, 1, 1)
    x_t = dm.q_sample(x0, t, noise, ab)
    v = {"v": np.sqrt(a) * noise - np.sqrt(1 - a) * x0, "eps": noise,
         "-v": np.sqrt(1 - a) * x0 - np.sqrt(a) * noise}[target]
    return np.mean((model(x_t, t) - v) ** 2)


def step_ok(x_t, t, eps, betas, alphas, ab, z, variance="posterior", wrap=False):
    mean = (x_t - betas[t] / np.sqrt(1 - ab[t]) * eps) / np.sqrt(alphas[t])
    ab_prev = ab[t - 1] if (t > 0 or wrap) else 1.0  # wrap: the classic ab[-1] at t = 0
    var = {"posterior": (1 - ab_prev) / (1 - ab[t]) * betas[t],
           "beta": betas[t] if t > 0 else 0.0}[variance]
    return mean + np.sqrt(var) * z


def sample_ok(eps_model, step, schedule, n, shape, rng, order="down", start="noise",
              noise="fresh", last=0, numpy_rng=False, own_step=False):
    """Exercise 5's loop; the keywords make its classic mistakes."""
    betas, alphas, ab = schedule
    x = rng.normal(size=(n, *shape)) if start == "noise" else np.zeros((n, *shape))
    ts = range(len(betas) - 1, last - 1, -1) if order == "down" else range(len(betas))
    z_once = rng.normal(size=x.shape)
    for t in ts:
        z = {"fresh": (np.random.normal(size=x.shape) if numpy_rng else rng.normal(size=x.shape)),
             "same": z_once, "none": 0 * z_once}[noise]
        eps = eps_model(x, np.full(n, t))
        x = (step_ok if own_step else step)(x, t, eps, betas, alphas, ab, z)
    return x


def test_right_answers_pass(capsys):
    checks.check_schedule(schedule_ok)
    checks.check_renoise(renoise_ok)
    checks.check_v_loss(v_loss_ok)
    checks.check_reverse_step(step_ok)
    checks.check_sampler(sample_ok)
    assert capsys.readouterr().out.count("\u2713") == 5


def test_renoise_is_the_forward_process_in_two_legs():
    """Noising x0 to s, then s to t, has the statistics of noising x0 to t directly."""
    _, _, ab = checks._schedule()
    rng = np.random.default_rng(0)
    n, s, t = 20000, 10, 30
    x0 = np.full((n, 1, 1, 1), 0.5)
    x_s = dm.q_sample(x0, np.full(n, s), rng.normal(size=x0.shape), ab)
    x_t = renoise_ok(x_s, np.full(n, s), np.full(n, t), rng.normal(size=x0.shape), ab)
    assert abs(x_t.mean() - np.sqrt(ab[t]) * 0.5) < 0.02
    assert abs(x_t.var() - (1 - ab[t])) < 0.02


@pytest.mark.parametrize("make, hint", [
    (lambda T, b0, b1: None, "still a TODO"),
    (lambda T, b0, b1: (np.linspace(b0, b1, T), 1 - np.linspace(b0, b1, T),
                        np.cumprod(1 - np.linspace(b0, b1, T))), "the chapter's linear schedule"),
    (lambda T, b0, b1: schedule_ok(T, b0, b1, square=False), "Square the evenly spaced"),
    (lambda T, b0, b1: (*schedule_ok(T, b0, b1)[:2], np.cumsum(schedule_ok(T, b0, b1)[1])),
     "running *product*"),
    (lambda T, b0, b1: (*schedule_ok(T, b0, b1)[:2], np.cumprod(schedule_ok(T, b0, b1)[0])),
     "not the betas"),
    (lambda T, b0, b1: (schedule_ok(T, b0, b1)[0],) * 3, "alphas = 1 - betas"),
    (lambda T, b0, b1: "betas", "three arrays"),
])
def test_schedule_mistakes(make, hint, rejects):
    rejects(lambda: checks.check_schedule(make), hint)


@pytest.mark.parametrize("fn, hint", [
    (lambda *a: None, "still a TODO"),
    (lambda *a: renoise_ok(*a, ratio=False), "adds that noise twice"),
    (lambda x_s, s, t, noise, ab: renoise_ok(x_s, t, s, noise, ab), "NaN or inf"),
    (lambda x_s, s, t, noise, ab: renoise_ok(x_s, s, t, noise, ab)[0], "returned shape"),
    (lambda x_s, s, t, noise, ab: x_s, "does not match the reference"),
])
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt")
def test_renoise_mistakes(fn, hint, rejects):
    rejects(lambda: checks.check_renoise(fn), hint)


@pytest.mark.parametrize("fn, hint", [
    (lambda *a: v_loss_ok(*a, target="eps"), "epsilon-prediction"),
    (lambda *a: v_loss_ok(*a, target="-v"), "sign of v is flipped"),
    (lambda model, x0, t, noise, ab: np.mean((model(x0, t) - (
        np.sqrt(np.asarray(ab)[t].reshape(-1, 1, 1, 1)) * noise
        - np.sqrt(1 - np.asarray(ab)[t].reshape(-1, 1, 1, 1)) * x0)) ** 2), "not the clean x0"),
    (lambda *a: None, "still a TODO"),
])
def test_v_loss_mistakes(fn, hint, rejects):
    rejects(lambda: checks.check_v_loss(fn), hint)


@pytest.mark.parametrize("kwargs, hint", [
    (dict(variance="beta"), "the chapter's choice"),
    (dict(wrap=True), "NumPy wraps around"),
])
def test_reverse_step_mistakes(kwargs, hint, rejects):
    rejects(lambda: checks.check_reverse_step(lambda *a: step_ok(*a, **kwargs)), hint)


def test_reverse_step_that_scales_noise_by_the_variance_is_named(rejects):
    def by_variance(x_t, t, eps, betas, alphas, ab, z):
        mean = (x_t - betas[t] / np.sqrt(1 - ab[t]) * eps) / np.sqrt(alphas[t])
        return mean + (1 - (ab[t - 1] if t else 1)) / (1 - ab[t]) * betas[t] * z
    rejects(lambda: checks.check_reverse_step(by_variance), "not by the variance")


def test_reverse_step_off_by_one_is_named(rejects):
    def off(x_t, t, eps, betas, alphas, ab, z):
        return step_ok(x_t, t - 1, eps, betas, alphas, ab, z) if t > 1 else \
            step_ok(x_t, t, eps, betas, alphas, ab, z)
    rejects(lambda: checks.check_reverse_step(off), "Off by one step")


@pytest.mark.parametrize("kwargs, hint", [
    (dict(order="up"), "The loop runs forward"),
    (dict(start="zeros"), "start from pure noise"),
    (dict(noise="same"), "same z used at every step"),
    (dict(noise="none"), "needs fresh noise z"),
    (dict(last=1), "The loop stops at step 1"),
    (dict(numpy_rng=True), "not np.random"),
    (dict(own_step=True), "never called `step`"),
])
def test_sampler_mistakes(kwargs, hint, rejects):
    rejects(lambda: checks.check_sampler(lambda *a: sample_ok(*a, **kwargs)), hint)


def test_sampler_check_knows_the_ideal_denoiser():
    """The check's 'network' is exact: one reverse step of the ideal denoiser, from the data's
    own x_t statistics, keeps the marginal; a right loop reproduces the data's mean and
    (up to the discrete steps) its spread."""
    betas, alphas, ab = checks._schedule()
    model = checks._Recorder(ab)
    x = sample_ok(model, lambda *a: checks._posterior_step(*a), (betas, alphas, ab),
                  checks.N_SAMPLES, checks.SHAPE, np.random.default_rng(0))
    assert np.abs(x.mean(0) - checks.MU[0]).max() < 0.1
    assert 0.4 < x.std(0).mean() < 0.6
    assert model.steps == list(range(len(betas) - 1, -1, -1))


def test_samples_check_scores_against_pure_noise(rejects, capsys):
    from cvbook import data

    real = data.load("fashion_mnist", image_size=16, n_train=10, n_test=200).x_test
    score, noise = checks.check_samples(real, max_ratio=0.5)
    assert score.frechet < 0.1 * noise.frechet
    assert "\u2713 samples" in capsys.readouterr().out
    rejects(lambda: checks.check_samples(real * 2 - 1, max_ratio=0.5), "(x + 1) / 2")
    blurred = np.full_like(real, real.mean())
    rejects(lambda: checks.check_samples(blurred, max_ratio=0.5), "at most 0.5 times")
