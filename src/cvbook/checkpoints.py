"""The course's trained weights: full-profile models a learner can load instead of training.

The files live in ``cvbook/weights/`` (inside the package, so a Colab install has them too),
described by ``weights/manifest.json``: for each checkpoint, what it is, the builder and
arguments that recreate its architecture, how it was trained (command, dataset, knobs, epochs,
wall time, hardware), its scores and its SHA-256. ``make checkpoints`` (``python
tools/train_checkpoints.py build``) retrains every one from scratch and rewrites the manifest.

    net = checkpoints.load("dcgan")        # a Keras model with the shipped weights
    print(checkpoints.describe("dcgan"))   # where the weights came from, in one line
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os

from .text import wrap

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
MANIFEST = os.path.join(WEIGHTS_DIR, "manifest.json")
REBUILD = "make checkpoints (python tools/train_checkpoints.py build)"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not fit the current code."""


def manifest() -> dict:
    """The manifest: checkpoint name -> its record."""
    if not os.path.exists(MANIFEST):
        raise CheckpointError(f"No checkpoint manifest at {MANIFEST}. Rebuild the checkpoints "
                              f"with {REBUILD}.")
    with open(MANIFEST) as f:
        return json.load(f)["checkpoints"]


def names() -> list[str]:
    return sorted(manifest())


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record(name: str) -> dict:
    """The manifest entry of ``name``, with a clear error for an unknown name."""
    entries = manifest()
    if name not in entries:
        raise CheckpointError(f"No checkpoint named {name!r}; the manifest has "
                              f"{', '.join(sorted(entries))}.")
    return entries[name]


def path(name: str, verify: bool = True) -> str:
    """The weights file of ``name``; checks that it exists and matches its SHA-256."""
    entry = record(name)
    file = os.path.join(WEIGHTS_DIR, entry["file"])
    if not os.path.exists(file):
        raise CheckpointError(f"Checkpoint {name!r}: {file} is missing. Rebuild it with "
                              f"{REBUILD}, or restore it from the repository.")
    if verify and sha256(file) != entry["sha256"]:
        raise CheckpointError(f"Checkpoint {name!r}: {file} does not match the SHA-256 in "
                              f"{MANIFEST} (corrupt, or changed without the manifest). "
                              f"Restore it from the repository, or rebuild with {REBUILD}.")
    return file


def build(name_or_entry):
    """A fresh, untrained model with the architecture recorded for a checkpoint (current
    code): its manifest name, or an entry with ``builder`` and ``builder_kwargs``."""
    entry = record(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry
    module, _, fn = entry["builder"].rpartition(".")
    return getattr(importlib.import_module(module), fn)(**entry["builder_kwargs"])


def load(name: str):
    """The model of checkpoint ``name`` with its shipped weights.

    A checkpoint with a ``schedule`` (``diffusion``) comes back as a ready-to-sample
    :class:`cvbook.diffusion.Diffusion` (its U-Net holds the EMA weights), one that also has a
    ``latent`` autoencoder (``text2image``) as a :class:`cvbook.text2image.TextDiffusion`;
    every other checkpoint as a Keras model.
    """
    file = path(name)
    model = build(name)
    try:
        model.load_weights(file)
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"Checkpoint {name!r}: {file} does not fit the current "
                              f"{record(name)['builder']} ({err}). The architecture changed; "
                              f"rebuild with {REBUILD}.") from None
    if "schedule" in record(name):  # a diffusion network: wrap it, ready to sample
        from . import diffusion

        sched = record(name)["schedule"]
        schedule = getattr(diffusion, f"{sched['kind']}_schedule")(sched["T"])
        if "latent" in record(name):  # text-to-image: its autoencoder decodes the samples
            from . import text2image

            return text2image.TextDiffusion(model, schedule, load(record(name)["latent"]),
                                            prediction=sched.get("prediction", "eps"))
        return diffusion.Diffusion(model, schedule,
                                   num_classes=record(name)["builder_kwargs"].get("num_classes"),
                                   prediction=sched.get("prediction", "eps"))
    return model


def describe(name: str) -> str:
    """Where the weights of ``name`` came from, in a few lines (for the chapters)."""
    e = record(name)
    return wrap(f"{e['what']}: trained by `{e['command']}` on {e['dataset']} "
                f"({e['training']}), {e['wall_seconds'] / 60:.0f} min on {e['hardware']}, "
                f"{e['date']}")
