"""The two run profiles of every notebook, in one place.

- ``smoke``: CPU, a few minutes per notebook: real Fashion-MNIST (offline through its
  system package), short training. The tests and CI run this.
- ``full``: the same data at full scale, real epochs, meant for a GPU. The Results page
  reports both.

Both profiles run exactly the same code; only the knobs below change. A notebook picks its
profile without being edited, in this order:

1. its papermill parameter ``profile`` (``papermill nb.ipynb out.ipynb -p profile full``);
2. the ``COURSE_PROFILE`` environment variable (``COURSE_PROFILE=full jupyter lab``);
3. otherwise ``full`` when TensorFlow sees a GPU, else ``smoke``.

``$COURSE_OVERRIDES`` (JSON, for example ``{"epochs": 1}``) replaces the knobs it names in
whichever notebook has them. ``COURSE_OVERRIDES=quick`` is the preset :data:`QUICK`: every
notebook's code path for one tiny epoch, with the result checks (:meth:`Config.check`) off. The
nbval pass of ``make test`` uses it with the full profile; a parameter passed to the notebook
still wins over it.

Usage in a notebook::

    cfg = profiles.config("cnn-training", profile)   # profile from the parameters cell
    cfg.epochs, cfg.dataset                         # the knobs of this notebook
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

from .text import wrap

PROFILE_NAMES = ("smoke", "full")
ENV_VAR = "COURSE_PROFILE"
OVERRIDES_ENV_VAR = "COURSE_OVERRIDES"
RESULTS_ENV_VAR = "COURSE_RESULTS_DIR"

# COURSE_OVERRIDES=quick: the whole code path of every notebook, tiny (results cannot hold).
QUICK = {"epochs": 1, "overfit_epochs": 1, "seg_epochs": 1, "n_train": 300, "n_val": 200,
         "n_test": 200, "n_timing": 100, "seeds": 1, "classic_steps": 5, "mlp_epochs": 1,
         "dcgan_epochs": 1, "ae_epochs": 1, "gan_epochs": 1, "T": 20, "ddim_steps": [2, 5],
         "guidance_steps": 2, "warmup_steps": 0, "widths": [8, 16], "steps": 5,
         "checkpoint_steps": 2, "n_checkpoint": 20, "n_samples": 20, "n_guided": 20,
         "sweep_steps": 2, "per_class": 2, "gen_per_class": 2, "sample_steps": 2, "n_edit": 20,
         "edit_steps": 2, "sr_steps": 2, "sr_gan_steps": 2, "shots": [2, 5], "skip_steps": 5,
         "cycle_epochs": 1, "cycle_steps": 5, "cycle_seeds": 1, "live_images": 256,
         "live_epochs": 1, "live_per_combo": 1, "per_combo": 1, "timing_steps": 1,
         "per_prompt": 1,
         # the labs' outcome checks: a tiny run cannot reach the real targets
         "target_accuracy": 0.0, "frozen_target": 0.0, "max_ratio": 100.0,
         "min_coverage": 0.0,
         "check_results": False}  # every result a chapter asserts goes through cfg.check

# notebook key -> profile -> knobs. Keep the keys of both profiles identical.
PROFILES: dict[str, dict[str, dict]] = {
    "cnn-blocks": {
        "smoke": dict(photo_size=64),
        "full": dict(photo_size=128),
    },
    "cnn-training": {
        "smoke": dict(dataset="fashion_mnist", image_size=28, channels=1, n_train=30000,
                      n_test=None, width=32, dropout=0.25, epochs=3, batch_size=128,
                      target_accuracy=0.86, n_overfit=300, n_val=500, overfit_epochs=30,
                      use_checkpoints=True),
        "full": dict(dataset="fashion_mnist", image_size=28, channels=1, n_train=None,
                     n_test=None, width=64, dropout=0.4, epochs=12, batch_size=128,
                     target_accuracy=0.92, n_overfit=1000, n_val=5000, overfit_epochs=40,
                     use_checkpoints=True),
    },
    "transfer": {
        "smoke": dict(n_train=6000, epochs=2, deep_blocks=4, skip_steps=120, shots=(5, 20, 100),
                      seeds=3, steps=60, n_test=1000, pitfall_shots=20, use_checkpoints=True,
                      online=False),
        "full": dict(n_train=None, epochs=3, deep_blocks=4, skip_steps=400, shots=(5, 20, 100),
                     seeds=5, steps=150, n_test=None, pitfall_shots=20, use_checkpoints=True,
                     online=False),
    },
    "detection": {
        "smoke": dict(n_train=3000, n_test=500, epochs=3, batch_size=32, seg_epochs=3,
                      min_map50=0.5, use_checkpoints=True),
        "full": dict(n_train=12000, n_test=2000, epochs=10, batch_size=64, seg_epochs=10,
                     min_map50=0.8, use_checkpoints=True),
    },
    "augmentation": {
        "smoke": dict(photo_size=96, dataset="fashion_mnist", image_size=28, channels=1,
                      n_train=300, n_val=500, n_test=1000, n_timing=2000, epochs=20, batch_size=64,
                      dropout=0.25, seeds=2, shift=0.1, zoom=0.1, min_gain_varied=0.05),
        "full": dict(photo_size=160, dataset="fashion_mnist", image_size=28, channels=1,
                     n_train=3000, n_val=5000, n_test=None, n_timing=10000, epochs=40,
                     batch_size=64,
                     dropout=0.25, seeds=3, shift=0.1, zoom=0.1, min_gain_varied=0.0),
    },
    "gans": {
        "smoke": dict(dataset="fashion_mnist", n_train=20000, n_test=1000,
                      batch_size=64, classic_steps=600, mlp_epochs=5, dcgan_epochs=3,
                      dcgan_g_lr=1e-3, dcgan_d_lr=2e-4, max_gap=0.2, use_checkpoints=True),
        "full": dict(dataset="fashion_mnist", n_train=None, n_test=5000,
                     batch_size=128, classic_steps=3000, mlp_epochs=15, dcgan_epochs=10,
                     dcgan_g_lr=2e-4, dcgan_d_lr=2e-4, max_gap=0.2, use_checkpoints=True),
    },
    "translation": {
        "smoke": dict(n_train=6000, n_test=1000, width=16, batch_size=64, epochs=3, steps=100,
                      cycle_epochs=2, cycle_steps=60, cycle_batch_size=32, cycle_seeds=2),
        "full": dict(n_train=None, n_test=None, width=32, batch_size=64, epochs=10, steps=300,
                     cycle_epochs=4, cycle_steps=100, cycle_batch_size=64, cycle_seeds=3),
    },
    "lab-translation": {
        "smoke": dict(n_train=3000, n_test=500, width=8, batch_size=32, steps=80,
                      max_ratio=0.75),
        "full": dict(n_train=None, n_test=None, width=16, batch_size=64, steps=600,
                     max_ratio=0.75),
    },
    "lab-gans": {
        "smoke": dict(dataset="fashion_mnist", image_size=28, n_train=20000, steps=250,
                      batch_size=64, n_test=2000, max_ratio=0.5, min_coverage=0.6),
        "full": dict(dataset="fashion_mnist", image_size=28, n_train=None, steps=3000,
                     batch_size=128, n_test=5000, max_ratio=0.5, min_coverage=0.6),
    },
    "diffusion": {
        "smoke": dict(dataset="fashion_mnist", image_size=16, n_train=15000, n_test=300,
                      ae_epochs=1, widths=(16, 32), T=100, epochs=3,
                      batch_size=64, learning_rate=2e-3, ema=0.995, label_dropout=0.1,
                      prediction="eps", min_snr=0.0, ema_warmup=False, warmup_steps=0,
                      final_lr_fraction=1.0, weight_decay=0.0, ddim_steps=(5, 10, 25),
                      gan_epochs=2, gan_lr=5e-4, guidance=3.0, guidance_steps=10, max_gap=0.2,
                      use_checkpoints=True, checkpoint_steps=50, n_checkpoint=500,
                      checkpoint_guidances=(0.0, 1.0, 2.0, 3.0), n_guided=200, sweep_steps=20),
        "full": dict(dataset="fashion_mnist", image_size=28, n_train=None, n_test=400,
                     ae_epochs=3, widths=(32, 64), T=250, epochs=10,
                     batch_size=128, learning_rate=4e-3, ema=0.999, label_dropout=0.2,
                     prediction="v", min_snr=5.0, ema_warmup=True, warmup_steps=300,
                     final_lr_fraction=0.02, weight_decay=1e-4, ddim_steps=(10, 25, 50),
                     gan_epochs=5, gan_lr=2e-4, guidance=3.0, guidance_steps=25, max_gap=0.2,
                     use_checkpoints=True, checkpoint_steps=50, n_checkpoint=2000,
                     checkpoint_guidances=(0.0, 1.0, 2.0, 3.0, 4.0), n_guided=1000,
                     sweep_steps=50),
    },
    "text2image": {
        "smoke": dict(n_test=2000, live_images=6400, live_epochs=1, batch_size=64,
                      learning_rate=2e-3, warmup_steps=20, ema=0.999, caption_dropout=0.1,
                      timing_steps=10, live_per_combo=10, per_combo=20, sample_steps=15,
                      guidances=(0.0, 1.0, 2.0, 4.0), guidance=2.0),
        "full": dict(n_test=None, live_images=None, live_epochs=5, batch_size=128,
                     learning_rate=2e-3, warmup_steps=300, ema=0.999, caption_dropout=0.1,
                     timing_steps=20, live_per_combo=50, per_combo=100, sample_steps=50,
                     guidances=(0.0, 1.0, 2.0, 3.0, 4.0), guidance=2.0),
    },
    "lab-text2image": {
        "smoke": dict(n_test=1000, per_prompt=8, sample_steps=15, guidance=2.0),
        "full": dict(n_test=None, per_prompt=50, sample_steps=50, guidance=2.0),
    },
    "applications": {
        "smoke": dict(dataset="fashion_mnist", n_test=1000, per_class=10, gen_per_class=20,
                      guidances=(0.0, 1.0, 3.0), guidance=1.0, sample_steps=6, seeds=3,
                      steps=80, batch_size=64, width=16, n_edit=150, edit_steps=10,
                      n_train=20000, sr_width=16, sr_steps=200, sr_gan_steps=200,
                      adv_weight=0.01),
        "full": dict(dataset="fashion_mnist", n_test=None, per_class=50, gen_per_class=150,
                     guidances=(0.0, 1.0, 3.0), guidance=1.0, sample_steps=25, seeds=5,
                     steps=600, batch_size=64, width=32, n_edit=1000, edit_steps=25,
                     n_train=None, sr_width=32, sr_steps=2000, sr_gan_steps=2000,
                     adv_weight=0.01),
    },
    "lab-applications": {
        "smoke": dict(dataset="fashion_mnist", n_test=1000, per_class=10, shares=(0.0, 0.5, 0.8),
                      guidance=1.0, sample_steps=6, steps=120, width=16, seeds=1,
                      t_start=80, n_edit=8),
        "full": dict(dataset="fashion_mnist", n_test=None, per_class=50, shares=(0.0, 0.5, 0.8),
                     guidance=1.0, sample_steps=25, steps=600, width=32, seeds=3,
                     t_start=80, n_edit=16),
    },
    "lab-transfer": {
        "smoke": dict(per_class=10, steps=80, frozen_target=0.6, target_accuracy=0.7),
        "full": dict(per_class=10, steps=200, frozen_target=0.6, target_accuracy=0.7),
    },
    "lab-diffusion": {
        "smoke": dict(dataset="fashion_mnist", image_size=28, T=200, train_size=16,
                      widths=(16, 32), n_train=15000, epochs=3, batch_size=64,
                      learning_rate=2e-3, ema=0.995, n_samples=300, max_ratio=0.5),
        "full": dict(dataset="fashion_mnist", image_size=28, T=1000, train_size=28,
                     widths=(32, 64), n_train=None, epochs=10, batch_size=128,
                     learning_rate=2e-3, ema=0.999, n_samples=1000, max_ratio=0.5),
    },
    "lab-augmentation": {
        "smoke": dict(photo_size=64, n_train=5000, n_test=2000, epochs=5, margin=0.14,
                      max_drop=0.1),
        "full": dict(photo_size=128, n_train=20000, n_test=10000, epochs=8, margin=0.14,
                     max_drop=0.1),
    },
    "lab-detection": {
        "smoke": dict(n_test=200, min_map=0.95),
        "full": dict(n_test=1000, min_map=0.95),
    },
    "lab-cnn": {
        "smoke": dict(dataset="fashion_mnist", image_size=28, channels=1, n_train=15000,
                      epochs=3, batch_size=128, target_accuracy=0.85),
        "full": dict(dataset="fashion_mnist", image_size=28, channels=1, n_train=None,
                     epochs=8, batch_size=128, target_accuracy=0.90),
    },
}


def resolve(profile: str | None = None) -> str:
    """Return the profile to run: the argument, else ``$COURSE_PROFILE``, else by hardware."""
    chosen = profile or os.environ.get(ENV_VAR) or None
    if chosen is None:
        import tensorflow as tf

        chosen = "full" if tf.config.list_physical_devices("GPU") else "smoke"
    if chosen not in PROFILE_NAMES:
        raise ValueError(f"Unknown profile {chosen!r}: use one of {PROFILE_NAMES} "
                         f"(from the 'profile' parameter or ${ENV_VAR}).")
    return chosen


class Config(SimpleNamespace):
    """The knobs of one notebook in one profile, as attributes (``cfg.epochs``)."""

    def check(self, condition, message: str) -> None:
        """Assert a result that the notebook's text relies on, like ``assert``.

        ``COURSE_OVERRIDES=quick`` runs notebooks for one tiny epoch, where no result can hold,
        and switches these checks off (``{"check_results": false}`` in ``$COURSE_OVERRIDES``
        does the same). Nothing else does.
        """
        if self.check_results and not condition:
            raise AssertionError(message)

    def record(self, **metrics) -> None:
        """Report a notebook's results (accuracy, scores...) in a machine-readable way.

        Prints them, and when ``$COURSE_RESULTS_DIR`` is set (the benchmark sets it) also
        merges them into ``<dir>/<notebook>.json``.
        """
        metrics = {k: (float(v) if hasattr(v, "__float__") and not isinstance(v, (bool, int))
                       else v) for k, v in metrics.items()}
        print(wrap("results: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in metrics.items())))
        out_dir = os.environ.get(RESULTS_ENV_VAR)
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            path = os.path.join(out_dir, f"{self.notebook}.json")
            data = {}
            if os.path.exists(path):
                with open(path) as f:
                    data = json.load(f)
            data.update(notebook=self.notebook, profile=self.profile, **metrics)
            with open(path, "w") as f:
                json.dump(data, f, indent=1)


def overrides_from_env() -> dict:
    """The knobs ``$COURSE_OVERRIDES`` replaces: a JSON object, or ``quick`` for :data:`QUICK`."""
    text = (os.environ.get(OVERRIDES_ENV_VAR) or "").strip()
    if text == "quick":
        return dict(QUICK)
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as err:
        raise ValueError(f"${OVERRIDES_ENV_VAR} is not valid JSON ({err.msg} at character "
                         f"{err.pos}): {text!r}. Use an object such as "
                         f'{{"epochs": 1}}, or "quick".') from None
    if not isinstance(value, dict):
        raise ValueError(f"${OVERRIDES_ENV_VAR} must be a JSON object such as "
                         f'{{"epochs": 1}} (or "quick"), not {text!r}')
    return value


def _checked(notebook: str, key: str, value, default, source: str):
    """``value`` for knob ``key`` if it has the type of the profile's ``default``, else a
    ValueError that names the knob, where the value came from and what is expected."""
    def fail(expected):
        raise ValueError(f"{source}: knob {key!r} of {notebook!r} must be {expected} (like its "
                         f"default {default!r}), got {value!r} ({type(value).__name__})")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            fail("true or false")
    elif isinstance(default, int) or default is None:
        if isinstance(value, bool) or not isinstance(value, int):
            if not (default is None and value is None):
                fail("an int" + (" or null" if default is None else ""))
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            fail("a string")
    elif isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            fail("a list")
        value = tuple(value)
    return value


def config(notebook: str, profile: str | None = None, **overrides) -> Config:
    """The knobs of ``notebook`` in the resolved profile.

    Keyword ``overrides`` that are not None replace single knobs (so a parameters cell can
    say ``epochs = None`` and papermill can pass ``-p epochs 3``).
    """
    from . import support

    support.check()  # a stack older than the course supports: say what to upgrade, up front
    if not isinstance(notebook, str) or notebook not in PROFILES:
        raise KeyError(f"No profiles for notebook {notebook!r}; known: {sorted(PROFILES)}")
    name = resolve(profile)
    knobs = dict(PROFILES[notebook][name])
    from_env = overrides_from_env()
    check_results = from_env.pop("check_results", True)
    if not isinstance(check_results, bool):
        raise ValueError(f"${OVERRIDES_ENV_VAR}: check_results must be true or false, got "
                         f"{check_results!r}")
    for key, value in from_env.items():
        if key in knobs:
            knobs[key] = _checked(notebook, key, value, knobs[key], f"${OVERRIDES_ENV_VAR}")
    for key, value in overrides.items():
        if key not in knobs:
            raise KeyError(f"{key!r} is not a knob of {notebook!r}: {sorted(knobs)}")
        if value is not None:
            knobs[key] = _checked(notebook, key, value, knobs[key], "parameter")
    cfg = Config(notebook=notebook, profile=name, check_results=check_results, **knobs)
    print(wrap(f"profile: {name}  |  " + ", ".join(f"{k}={v}" for k, v in knobs.items())))
    if from_env:
        print(f"${OVERRIDES_ENV_VAR}: {from_env}" + ("" if check_results else
                                                    " (result checks off)"))
    return cfg
