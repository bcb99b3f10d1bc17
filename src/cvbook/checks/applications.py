"""Checks for the applications lab: chapter 6's ideas applied to cases it did not show.

- RePaint's step with DDPM's *stochastic* reverse step (the chapter used deterministic DDIM);
- a *local* edit: regenerate only a masked region, starting from the real image noised to an
  intermediate step (SDEdit and inpainting at once);
- an experiment's data split that keeps the test images away from the generator;
- mixing generated images in by *share of the training set*, balanced over classes.

Each check runs the learner's function on small synthetic inputs and compares it with a
private reference. When the answer is wrong, it is compared with the classic mistakes too, so
that the hint can name the one that was made.
"""

from __future__ import annotations

import numpy as np

from . import LabCheckError, expect, guarded, passed, require
from .diffusion import _as_array, _diagnose

T = 50


def _schedule():
    from ..diffusion import cosine_schedule

    return cosine_schedule(T)


def _q(x0, t, noise, alpha_bars):
    a = np.asarray(alpha_bars)[t]
    return np.sqrt(a) * x0 + np.sqrt(1.0 - a) * noise


def _ddpm(x_t, t, eps, s, z):
    mean = (x_t - s.betas[t] / np.sqrt(1.0 - s.alpha_bars[t]) * eps) / np.sqrt(s.alphas[t])
    return mean + (np.sqrt(s.betas[t]) * z if t > 0 else 0.0)


def _repaint_step(x_t, t, eps_pred, x0_known, mask, z, noise, s):
    """The reference answer of exercise 1."""
    known = _q(x0_known, t - 1, noise, s.alpha_bars) if t > 0 else x0_known
    return mask * known + (1.0 - mask) * _ddpm(x_t, t, eps_pred, s, z)


@guarded
def check_repaint_step(repaint_step) -> None:
    """x_{t-1}: DDPM's step in the hole, the real image noised to t-1 everywhere else."""
    require(repaint_step, "repaint_step")
    s, rng = _schedule(), np.random.default_rng(5)
    x0 = rng.uniform(-1, 1, size=(3, 6, 6, 1))
    mask = np.zeros_like(x0)
    mask[:, :, :3] = 1.0                                         # left half known
    for t in (20, 1, 0):
        x_t, eps, z, noise = (rng.normal(size=x0.shape) for _ in range(4))
        got = repaint_step(x_t, t, eps, x0, mask, z, noise, s)
        generated = _ddpm(x_t, t, eps, s, z)
        at_t = _q(x0, t, noise, s.alpha_bars)
        prev = _q(x0, t - 1, noise, s.alpha_bars) if t > 0 else x0
        _diagnose(got, _repaint_step(x_t, t, eps, x0, mask, z, noise, s), {
            "The known pixels are pasted in clean. At step t-1 the rest of the image still "
            "holds noise, so the network would see a sharp patch beside a noisy one: noise the "
            "known pixels to step t-1 first (chapter 5's closed form, with `noise`), except at "
            "t = 0.": mask * x0 + (1 - mask) * generated,
            "The known pixels are noised to step t, the level of the *input*. The result of the "
            "step is x_{t-1}: noise them to t-1 (and at t = 0, use the clean image).":
                mask * at_t + (1 - mask) * generated,
            "The mask is the wrong way round: mask = 1 marks the *known* pixels to keep.":
                (1 - mask) * prev + mask * generated,
            "Nothing is re-imposed: the step returns the model's x_{t-1} everywhere. Paste the "
            "noised known pixels back where mask = 1.": generated,
            "The known pixels need their own fresh noise (`noise`), not the `z` of the DDPM "
            "step.": mask * (_q(x0, t - 1, z, s.alpha_bars) if t > 0 else x0)
                     + (1 - mask) * generated,
        }, f"repaint_step(..., t={t}, ...)")
    passed("repaint_step: DDPM's step in the hole, the known pixels noised to step t-1")


class _ZeroNoiseModel:
    """A stand-in network for the checks: predicts zero noise and counts its calls."""

    def __init__(self):
        self.steps, self.first_mean = [], None

    def __call__(self, x_t, t):
        expect(np.ndim(t) == 0, f"eps_model(x, t) takes one int step t for the whole batch, "
               f"got {np.shape(t)}.")
        self.steps.append(int(t))
        if self.first_mean is None:
            self.first_mean = float(np.mean(x_t))
        return np.zeros_like(x_t)


@guarded
def check_local_edit(local_edit) -> None:
    """Start from the image noised to t_start; steps t_start .. 0; keep the known pixels."""
    require(local_edit, "local_edit")
    s, rng = _schedule(), np.random.default_rng(6)
    images = rng.uniform(0.2, 0.8, size=(4, 8, 8, 1)).astype("float32")
    mask = np.ones((1, 8, 8, 1), "float32")
    mask[:, 2:6, 2:6] = 0.0
    for t_start in (3, 30):
        model = _ZeroNoiseModel()
        out = _as_array(local_edit(model, images, mask, t_start, s, 0),
                        "local_edit(...)")
        expect(out.shape == images.shape, f"local_edit returned shape {out.shape}; expected "
               f"{images.shape}, like the input images.")
        expect(np.all(np.isfinite(out)), "local_edit returned NaN or inf.")
        expect(out.min() >= 0.0 and out.max() <= 1.0,
               "Return images in [0, 1]: map the result back with (x + 1) / 2 and clip.")
        steps = model.steps
        expect(steps, "local_edit never calls eps_model.")
        expect(t_start != 3 or abs(model.first_mean) < 0.25,
               f"The first x the model sees has mean {model.first_mean:.2f}; these test images "
               f"average 0.5 in [0, 1], so 0 in [-1, 1]. The model works on [-1, 1]: scale the "
               f"images with x * 2 - 1 before noising them.")
        expect(steps[0] != T - 1 or t_start == T - 1,
               f"The loop starts at step {T - 1}, the end of the chain. A local edit starts from "
               f"the real image noised to t_start={t_start}: loop t = t_start, ..., 0.")
        expect(steps == list(range(t_start, -1, -1)),
               f"With t_start={t_start} the model should be called at steps {t_start}, "
               f"{t_start - 1}, ..., 0 ({t_start + 1} calls); your loop called it at "
               f"{steps[:3]}...{steps[-2:]} ({len(steps)} calls). range(t_start, -1, -1) "
               f"gives exactly those.")
        known_error = np.abs((out - images) * mask).max()
        expect(known_error < 1e-4,
               f"The known pixels changed (by up to {known_error:.2f}): the last step (t = 0) "
               f"must paste the clean image back. Are the images converted to [-1, 1] before "
               f"the loop and back after?")
        hole = 1.0 - mask
        rmse = float(np.sqrt(((out - images) ** 2 * hole).sum() / (hole.sum() * len(images))))
        if t_start == 3:
            expect(rmse < 0.25,
                   f"From t_start=3 (almost no noise) the hole should stay close to the input, "
                   f"but it moved by {rmse:.2f} (RMS). Start from the images noised to t_start "
                   f"with the closed form, not from pure noise, and work in [-1, 1].")
    passed("local_edit: starts from the image noised to t_start, runs t_start..0, keeps the "
           "known pixels")


def _fake_dataset(n_train=60, n_test=20, classes=3):
    """Images that carry their own id (pixel value), so checks can tell which ones came back."""
    from types import SimpleNamespace

    ids = np.arange(n_train + n_test, dtype="float32")
    x = np.broadcast_to(ids[:, None, None, None], (len(ids), 2, 2, 1)).copy()
    y = (np.arange(len(ids)) % classes).astype("int32")
    return SimpleNamespace(x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:],
                           y_test=y[n_train:], num_classes=classes)


def _ids(x) -> np.ndarray:
    return np.asarray(x)[:, 0, 0, 0].round().astype(int)


@guarded
def check_split(split) -> None:
    """The labelled set: per_class training images per class; the generator: training images
    only; the test set: untouched."""
    require(split, "split")
    ds = _fake_dataset()
    out = split(ds, 4, 0)
    out = require(out, "split(...)")
    expect(isinstance(out, dict) and {"labelled", "generator", "test"} <= set(out),
           "split should return a dict with the keys 'labelled', 'generator' and 'test', each "
           "an (images, labels) pair.")
    for key in ("labelled", "generator", "test"):
        expect(isinstance(out[key], (tuple, list)) and len(out[key]) == 2,
               f"out[{key!r}] should be a pair (images, labels).")
    test_ids = set(_ids(ds.x_test))
    gen_ids = set(_ids(out["generator"][0]))
    expect(not gen_ids & test_ids,
           f"The generator's training set holds {len(gen_ids & test_ids)} test images. A "
           f"generator that has seen the test images can copy them into its samples, and every "
           f"test score of a classifier trained on those samples becomes optimistic. Train the "
           f"generator on the training split only.")
    expect(gen_ids == set(_ids(ds.x_train)),
           "The generator may use every *training* image (with its label): the real-world case "
           "of a generator trained on a bigger pool than the classifier's labelled set.")
    expect(np.array_equal(_ids(out["test"][0]), _ids(ds.x_test))
           and np.array_equal(out["test"][1], ds.y_test),
           "out['test'] should be the test split exactly as loaded (images and labels).")
    lx, ly = out["labelled"]
    lab_ids = _ids(lx)
    expect(not set(lab_ids) & test_ids,
           "The labelled set holds test images: draw it from the training split.")
    expect(len(lab_ids) == len(set(lab_ids)), "The labelled set repeats images: draw without "
           "replacement.")
    counts = np.bincount(np.asarray(ly), minlength=ds.num_classes)
    expect(np.all(counts == 4), f"The labelled set should hold per_class=4 images of every "
           f"class; it holds {counts.tolist()} per class.")
    expect(np.array_equal(ds.y_train[lab_ids], ly),
           "The labelled images and labels do not match: index both with the same indices.")
    passed("split: test images kept away from the generator, a balanced labelled set")


@guarded
def check_mix_share(mix_share) -> None:
    """All real images, plus generated ones making up ``share`` of the result, equally many
    per class, each with its own label."""
    require(mix_share, "mix_share")
    ds = _fake_dataset(n_train=200, n_test=1, classes=4)
    real = np.arange(0, 20)                                     # 5 per class
    gen = np.arange(20, 200)                                    # 45 per class, class-sorted below
    gen = gen[np.argsort(ds.y_train[gen], kind="stable")]
    x_real, y_real = ds.x_train[real], ds.y_train[real]
    x_gen, y_gen = ds.x_train[gen], ds.y_train[gen]
    for share in (0.5, 0.8):
        out = mix_share(x_real, y_real, x_gen, y_gen, share, 0)
        out = require(out, "mix_share(...)")
        expect(isinstance(out, (tuple, list)) and len(out) == 2,
               "mix_share should return (images, labels).")
        x, y = np.asarray(out[0]), np.asarray(out[1])
        expect(len(x) == len(y), f"{len(x)} images but {len(y)} labels.")
        ids = _ids(x)
        expect(np.array_equal(ds.y_train[ids], y),
               "Some images carry another image's label: shuffle images and labels with the "
               "*same* permutation (index both with one `order`).")
        expect(set(real) <= set(ids), "Keep every real image: generated images are added, "
               "never swapped in for real ones.")
        n_gen = len(x) - len(real)
        per_class = (round(len(real) / (1.0 - share)) - len(real)) // 4  # the reference
        gen_counts = np.bincount(y[~np.isin(ids, real)], minlength=4)
        misread = round(share * len(real))
        if n_gen == misread or (len(set(gen_counts)) == 1 and gen_counts[0] == misread // 4):
            raise LabCheckError(
                f"share={share} is the share of generated images in the *result*: with "
                f"{len(real)} real images the result holds {len(real)} / (1 - share) images, "
                f"so {4 * per_class} generated ones, not share * {len(real)} = {misread}.")
        expect(len(set(gen_counts)) == 1,
               f"The generated images are not balanced over the classes: {gen_counts.tolist()} "
               f"per class. The generated set is sorted by class, so its first images are all "
               f"of one class: take the same number from each class.")
        expect(gen_counts[0] == per_class,
               f"With share={share} expect {per_class} generated images per class "
               f"({len(real)} real images are 1 - share of the result); got {gen_counts[0]}.")
        expect(len(set(ids)) == len(ids), "Some generated images appear twice: draw without "
               "replacement.")
    passed("mix_share: all real images, generated ones balanced over classes, labels aligned")
