"""The applications lab's checks accept right answers and reject the classic mistakes by name."""

import numpy as np
import pytest

from cvbook import applications as app
from cvbook import diffusion as dm
from cvbook.checks import applications as checks


def step_ok(x_t, t, eps, x0, mask, z, noise, s, known_at="t-1", clean=False, swap=False,
            reimpose=True):
    generated = dm.ddpm_step(x_t, t, eps, s, z)
    level = {"t-1": t - 1, "t": t}[known_at]
    known = x0 if (clean or level < 0) else dm.q_sample(x0, [level] * len(x_t), noise, s.alpha_bars)
    if not reimpose:
        return generated
    if swap:
        mask = 1 - mask
    return mask * known + (1 - mask) * generated


def edit_ok(eps_model, images, mask, t_start, s, seed=0, start="image", stop=-1, scale=True,
            step=step_ok):
    rng = np.random.default_rng(seed)
    x0 = images * 2 - 1 if scale else images
    x = (dm.q_sample(x0, [t_start] * len(x0), rng.normal(size=x0.shape), s.alpha_bars)
         if start == "image" else rng.normal(size=x0.shape))
    first = s.T - 1 if start == "noise" else t_start
    for t in range(first, stop, -1):
        x = step(x, t, eps_model(x, t), x0, mask, rng.normal(size=x0.shape),
                 rng.normal(size=x0.shape), s)
    return np.clip((x + 1) / 2 if scale else x, 0, 1)


def split_ok(ds, per_class, seed=0, leak=False, labelled_from_test=False):
    idx = app.balanced_subset(ds.y_train, per_class, seed)
    gen = ((np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test]))
           if leak else (ds.x_train, ds.y_train))
    lab = (ds.x_test[:per_class * 3], ds.y_test[:per_class * 3]) if labelled_from_test else \
        (ds.x_train[idx], ds.y_train[idx])
    return {"labelled": lab, "generator": gen, "test": (ds.x_test, ds.y_test)}


def mix_ok(x_real, y_real, x_gen, y_gen, share, seed=0, mistake=None):
    classes = np.unique(y_real)
    n_gen = round(len(x_real) / (1 - share)) - len(x_real)
    if mistake == "ratio":
        n_gen = round(share * len(x_real))
    if mistake == "first":
        x, y = np.concatenate([x_real, x_gen[:n_gen]]), np.concatenate([y_real, y_gen[:n_gen]])
    else:
        x, y = app.mix(x_real, y_real, x_gen, y_gen, n_gen // len(classes), seed)
    if mistake == "labels":
        y = np.random.default_rng(1).permutation(y)
    if mistake == "replace":
        x, y = x[len(x_real):], y[len(x_real):]
    return x, y


def test_right_answers_pass(capsys):
    checks.check_repaint_step(step_ok)
    checks.check_local_edit(edit_ok)
    checks.check_split(split_ok)
    checks.check_mix_share(mix_ok)
    assert capsys.readouterr().out.count("\u2713") == 4


def test_the_lab_solution_matches_the_chapter_at_t_zero():
    """At t = 0 the step pastes the clean image: the known pixels come back exactly."""
    s = dm.cosine_schedule(50)
    rng = np.random.default_rng(0)
    x0, x_t = rng.uniform(-1, 1, (2, 4, 4, 1)), rng.normal(size=(2, 4, 4, 1))
    mask = np.ones_like(x0)
    out = step_ok(x_t, 0, np.zeros_like(x_t), x0, mask, rng.normal(size=x0.shape),
                  rng.normal(size=x0.shape), s)
    assert np.allclose(out, x0)


@pytest.mark.parametrize("step, hint", [
    (lambda *a: None, "still a TODO"),
    (lambda *a: step_ok(*a, clean=True), "pasted in clean"),
    (lambda *a: step_ok(*a, known_at="t"), "level of the *input*"),
    (lambda *a: step_ok(*a, swap=True), "wrong way round"),
    (lambda *a: step_ok(*a, reimpose=False), "Nothing is re-imposed"),
    (lambda x_t, t, e, x0, m, z, n, s: step_ok(x_t, t, e, x0, m, z, z, s), "own fresh noise"),
    (lambda *a: step_ok(*a)[:, :2], "shape"),
    (lambda *a: 1 / 0, "raised ZeroDivisionError"),
    (lambda *a: step_ok(*a) * np.nan, "NaN"),
])
def test_repaint_step_mistakes_are_named(rejects, step, hint):
    rejects(lambda: checks.check_repaint_step(step), hint)


@pytest.mark.parametrize("edit, hint", [
    (None, "still a TODO"),
    (lambda *a: None, "still a TODO"),
    (lambda *a: edit_ok(*a, start="noise"), "starts at step 49"),
    (lambda *a: edit_ok(*a, stop=0), "should be called at steps"),
    (lambda *a: edit_ok(*a, scale=False), "scale the images with x * 2 - 1"),
    (lambda *a: edit_ok(*a)[..., 0], "shape"),
    (lambda *a: edit_ok(*a) * 2 - 1, "[0, 1]"),
    (lambda *a: edit_ok(*a, start="noise at t_start"), "close to the input"),
    (lambda m, im, mask, t, s, seed: edit_ok(m, im, mask, t, s, seed,
                                             step=lambda *b: step_ok(*b, reimpose=False)),
     "known pixels changed"),
    (lambda m, im, mask, t, s, seed: m(im, np.full(len(im), t)), "one int step"),
])
def test_local_edit_mistakes_are_named(rejects, edit, hint):
    rejects(lambda: checks.check_local_edit(edit), hint)


@pytest.mark.parametrize("split, hint", [
    (lambda *a: None, "still a TODO"),
    (lambda ds, k, seed: (ds.x_train, ds.y_train), "a dict"),
    (lambda *a: split_ok(*a, leak=True), "holds 20 test images"),
    (lambda *a: split_ok(*a, labelled_from_test=True), "labelled set holds test images"),
    (lambda ds, k, seed: {**split_ok(ds, k, seed), "generator": (ds.x_train[:10], ds.y_train[:10])},
     "every *training* image"),
    (lambda ds, k, seed: {**split_ok(ds, k, seed), "labelled": (ds.x_train[:10], ds.y_train[:10])},
     "should hold per_class=4"),
    (lambda ds, k, seed: {**split_ok(ds, k, seed),
                          "labelled": (ds.x_train[:12], np.roll(ds.y_train[:12], 1))},
     "do not match"),
])
def test_split_mistakes_are_named(rejects, split, hint):
    rejects(lambda: checks.check_split(split), hint)


@pytest.mark.parametrize("mix, hint", [
    (lambda *a: None, "still a TODO"),
    (lambda *a: mix_ok(*a, mistake="ratio"), "share of generated images in the *result*"),
    (lambda *a: mix_ok(*a, mistake="first"), "not balanced over the classes"),
    (lambda *a: mix_ok(*a, mistake="labels"), "another image's label"),
    (lambda *a: mix_ok(*a, mistake="replace"), "Keep every real image"),
    (lambda *a: (mix_ok(*a)[0], mix_ok(*a)[1][:-1]), "labels"),
])
def test_mix_share_mistakes_are_named(rejects, mix, hint):
    rejects(lambda: checks.check_mix_share(mix), hint)
