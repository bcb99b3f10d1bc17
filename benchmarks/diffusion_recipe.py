"""The diffusion checkpoint's recipe, one choice at a time, at an equal training budget.

    python benchmarks/diffusion_recipe.py [--steps 600] [--samples 500]

Trains the checkpoint's class-conditional U-Net (``tools/train_checkpoints.py``, spec
``diffusion``) for the same number of steps, on the same images in the same order, with:
chapter 5's plain recipe (noise prediction, a constant learning rate, EMA 0.995 without a
warm-up), the checkpoint's full recipe, and the full recipe with one choice taken back at a
time. Each model's unconditional DDIM-50 samples are scored with both scorers. The table goes
to ``benchmarks/results/diffusion_recipe.json`` and, through ``bench.py page``, to the Results
page. A short budget favours choices that speed up early training (the EMA warm-up most of
all); the table says how many steps it used.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

OUT = os.path.join(HERE, "results", "diffusion_recipe.json")
PLAIN = dict(prediction="eps", min_snr=None, ema=0.995, ema_warmup=False, warmup_steps=0,
             final_lr_fraction=1.0, weight_decay=0.0, learning_rate=2e-3)
# (row, what changes from the checkpoint's recipe)
VARIANTS = [
    ("plain DDPM recipe (chapter 5)", PLAIN),
    ("checkpoint recipe", {}),
    ("- v-prediction (predict the noise)", dict(prediction="eps")),
    ("- Min-SNR weights", dict(min_snr=None)),
    ("- warm-up and cosine decay (constant rate)",
     dict(warmup_steps=0, final_lr_fraction=1.0)),
    ("- EMA warm-up", dict(ema_warmup=False)),
]


def run(steps: int, samples: int) -> dict:
    import numpy as np

    import cvbook
    import train_checkpoints as tc
    from cvbook import metrics
    from machine import device

    spec = tc.SPECS["diffusion"]
    ds = tc.data()
    rulers = {"reference": metrics.reference_scorer(), "second": metrics.second_scorer()}
    batch = spec["knobs"]["batch_size"]
    order = np.random.default_rng(0).permutation(len(ds.x_train))
    idx = np.resize(order, steps * batch)  # the same images, in the same order, for every row
    rows = []
    for name, change in VARIANTS:
        k = {**copy.deepcopy(spec["knobs"]), **change}
        prediction = k.pop("prediction", spec["schedule"]["prediction"])
        cvbook.set_seed(0)
        model = tc.diffusion_model(spec, k, prediction, steps)
        start = time.perf_counter()
        model.fit(ds.x_train[idx], ds.y_train[idx], epochs=1, batch_size=batch, shuffle=False,
                  verbose=0)
        seconds = time.perf_counter() - start
        images = model.sample(samples, steps=50, method="ddim", seed=0)
        row = {"variant": name, "train_seconds": round(seconds, 1)}
        for ruler, scorer in rulers.items():
            score = scorer.score(images)
            row[f"{ruler}_frechet"], row[f"{ruler}_kid"] = score.frechet, score.kid
        rows.append(row)
        print(f"{name:45s} " + " ".join(f"{k} {v:.3f}" for k, v in row.items()
                                         if isinstance(v, float)), flush=True)
    return {"steps": steps, "batch_size": batch, "samples": samples, "sampler": "DDIM-50",
            "device": device(), "date": str(datetime.date.today()), "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--samples", type=int, default=500)
    a = parser.parse_args(argv)
    import train_checkpoints as tc

    warmup = tc.SPECS["diffusion"]["knobs"]["warmup_steps"]
    if a.steps <= warmup or a.samples < 2:
        parser.error(f"--steps must exceed the recipe's {warmup} warm-up steps and --samples "
                     f"must be at least 2; got {a.steps} and {a.samples}")
    table = run(a.steps, a.samples)  # a "note" key, if added by hand, shows under the table
    with open(OUT, "w") as f:
        json.dump(table, f, indent=1)
    import bench

    bench.write_page()
    print(f"wrote {OUT} and the Results page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
