"""Run notebooks in a profile, time them, collect their recorded metrics, and write one table.

    python benchmarks/bench.py run [--profile smoke|full] [NOTEBOOK ...]   # default: chapters
    python benchmarks/bench.py page                                      # rewrite results.md

``run`` executes each notebook with papermill (into ``_build/executed/<profile>/``, where the
book build reuses it), with ``$COURSE_RESULTS_DIR`` set so that the notebook's
``cfg.record(...)`` metrics land in a JSON file instead of being parsed from printed text. It
merges one row per notebook into ``benchmarks/results/<profile>.json`` (notebook, profile,
device, wall seconds, metrics, date), prints the table, and regenerates the book's Results page
(``results.md``) from every table in ``benchmarks/results/``. Rows never measured say so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import notebooks as nbtools  # noqa: E402
from machine import device  # noqa: E402,F401  (the rows name their hardware)
from cvbook.profiles import RESULTS_ENV_VAR, overrides_from_env  # noqa: E402

RESULTS = os.path.join(HERE, "results")
PAGE = os.path.join(ROOT, "results.md")
PROFILE_NAMES = ("smoke", "full")

# Targets from the course plan: chased and reported here, never asserted in tests.
# (profile, notebook or None for the whole course, what, at most seconds or None,
#  metric or None, at least this value)
TARGETS = [
    ("smoke", None, "the whole course (all chapters) under 10 minutes on 2 CPU cores", 600,
     None, None),
    ("full", "chapters/02_cnn_training.ipynb", "Fashion-MNIST CNN: test accuracy at least 0.92",
     None, "test_accuracy", 0.92),
    ("full", "chapters/02b_transfer_learning.ipynb",
     "the transfer chapter's ResNet on all ten classes: test accuracy at least 0.935", None,
     "resnet_test_accuracy", 0.935),
    ("full", "chapters/03_augmentation.ipynb",
     "augmentation: a positive gain on the varied test images", None, "gain_varied", 0.0),
    ("full", "chapters/04_gans.ipynb", "GAN chapter under 45 minutes on a 2-core CPU", 2700,
     None, None),
    ("full", "chapters/05_diffusion.ipynb", "diffusion chapter under 45 minutes on a 2-core CPU",
     2700, None, None),
    ("full", "chapters/05b_text_to_image.ipynb",
     "text-to-image: the class asked for in at least 90% of samples on the held-out "
     "combinations (w = 2)", None, "w2_class_held_out", 0.9),
]

# Changes of a profile's settings after which a notebook's older rows measured something else:
# (profile, notebook) -> (the date of the change, what changed).
PROFILE_CHANGES = {
    ("full", "chapters/05_diffusion.ipynb"): (
        "2026-12-07", "the full profile now trains the diffusion model with the checkpoint's "
        "recipe for 10 epochs; this row ran the plain recipe for 3"),
}


def scorer_id() -> str:
    """Which reference scorer measured a row's Fréchet distances (its checkpoint's sha256,
    shortened): rows scored by different scorers are not comparable."""
    from cvbook import checkpoints

    return checkpoints.record("scorer")["sha256"][:12]


def load(profile: str) -> dict:
    path = os.path.join(RESULTS, f"{profile}.json")
    if not os.path.exists(path):
        return {"profile": profile, "rows": {}}
    with open(path) as f:
        return json.load(f)


def run(paths: list[str], profile: str) -> dict:
    table = load(profile)
    dev = device()
    overrides = overrides_from_env()
    for rel in paths:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ[RESULTS_ENV_VAR] = tmp
            print(f"run {rel} [{profile}] on {dev}", flush=True)
            start = time.perf_counter()
            failed = None
            try:
                nbtools.execute(rel, profile, progress_bar=True)
            except Exception as err:  # keep going: the row says what failed, main() exits 1
                failed = f"{getattr(err, 'ename', type(err).__name__)}: " \
                         f"{str(getattr(err, 'evalue', err)).strip().splitlines()[-1][:200]}"
                print(f"FAILED {rel}: {failed}", flush=True)
            seconds = time.perf_counter() - start
            metrics = {}
            for name in os.listdir(tmp):
                with open(os.path.join(tmp, name)) as f:
                    recorded = json.load(f)
                metrics.update({k: v for k, v in recorded.items()
                                if k not in ("notebook", "profile")})
        table["rows"][rel] = dict(notebook=rel, profile=profile, device=dev,
                                  seconds=round(seconds, 1), metrics=metrics,
                                  date=datetime.date.today().isoformat(),
                                  scorer=scorer_id())
        if overrides:  # a run with changed knobs says so in its row
            table["rows"][rel]["overrides"] = overrides
        if failed:
            table["rows"][rel]["failed"] = failed
        save(table)  # after each notebook: a long run stopped later keeps the rows it has
    return table


def save(table: dict) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{table['profile']}.json"), "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render() -> str:
    """The Markdown of the Results page, from every table in benchmarks/results/."""
    chapters = nbtools.notebooks(("chapters",))
    tables = {profile: load(profile)["rows"] for profile in PROFILE_NAMES}
    entries = _manifest()
    lines = [
        "# Results",
        "",
        "Measured by `python benchmarks/bench.py run --profile PROFILE` (or `make bench`), which "
        "runs each chapter with papermill and collects the metrics the chapter records with "
        "`cfg.record(...)`. This page is generated from `benchmarks/results/*.json` by "
        "`python benchmarks/bench.py page`: edit those, not this page. Each row says on what "
        "hardware it was measured; a row that has not been measured says so.",
        "",
    ]
    for profile, rows in tables.items():
        lines += [f"## Profile `{profile}`", "",
                  "| notebook | device | wall time | metrics | measured |",
                  "|---|---|---|---|---|"]
        for rel in chapters:
            name = os.path.splitext(os.path.basename(rel))[0]
            row = rows.get(rel)
            if row is None:
                why = "no such run has been recorded yet"
                lines.append(f"| {name} | - | - | not measured: {why} | - |")
                continue
            metrics = ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(row["metrics"].items()))
            if row.get("failed"):
                metrics = f"FAILED ({row['failed']}); recorded before it: {metrics or 'nothing'}"
            # rows measured before the reference scorer recorded neither the scorer nor a KID
            if (any(k.startswith("frechet") for k in row["metrics"]) and "scorer" not in row
                    and not any(k.startswith("kid") for k in row["metrics"])):
                metrics += (" (Fréchet distances from the chapter's own scorer, measured before "
                            "the reference scorer: not comparable with other rows)")
            stale = _older_checkpoints(rel, row["date"], entries)
            if stale:
                metrics += (f" (measured before the current {', '.join(stale)} checkpoint: "
                            f"rerun to update)")
            if _older_settings(profile, rel, row):
                change_date, what = PROFILE_CHANGES[profile, rel]
                metrics += f" (measured before {change_date}, when {what}: rerun to update)"
            if row.get("overrides"):
                metrics = (f"run with COURSE_OVERRIDES "
                           f"{json.dumps(row['overrides'], sort_keys=True)}: {metrics}")
            lines.append(f"| {name} | {row['device']} | {_minutes(row['seconds'])} | "
                         f"{metrics or '(none recorded)'} | {row['date']} |")
        lines.append("")
    lines += ["## Targets", "", "| target | status |", "|---|---|"]
    for profile, rel, text, limit, metric, least in TARGETS:
        rows = tables[profile]
        if rel is None:
            measured = [rows.get(r) for r in chapters]
            if all(measured):
                total = sum(r["seconds"] for r in measured)
                status = (f"{_minutes(total)} on {measured[0]['device']}: "
                          f"{'met' if total < limit else 'missed'}")
            else:
                status = "not measured: some chapters have no row"
        elif rel in rows:
            r = rows[rel]
            value = r["metrics"].get(metric) if metric else None
            ok = (not r.get("failed") and (limit is None or r["seconds"] < limit)
                  and (metric is None or (value is not None and value >= least)))
            status = (_minutes(r["seconds"])
                      + (f", {metric} {_fmt(value)}" if metric else "")
                      + f" on {r['device']}: {'met' if ok else 'missed'}"
                      + (" (with the profile's earlier settings)"
                         if _older_settings(profile, rel, r) else ""))
        else:
            status = f"not measured: no {profile} run has been recorded"
        lines.append(f"| {text} | {status} |")
    lines.append("")
    lines += _checkpoint_section()
    lines += _recipe_section()
    return "\n".join(lines)


def _recipe_section() -> list[str]:
    """The diffusion checkpoint's recipe ablation (benchmarks/diffusion_recipe.py), if run."""
    lines = ["## The diffusion recipe, one choice at a time", "",
             "The diffusion checkpoint's U-Net trained for the same number of steps on the same "
             "images with each recipe, by `python benchmarks/diffusion_recipe.py`; "
             "unconditional samples scored with the reference and the second scorer.", ""]
    path = os.path.join(RESULTS, "diffusion_recipe.json")
    if not os.path.exists(path):
        return lines + ["Not measured yet: no run has been recorded.", ""]
    with open(path) as f:
        t = json.load(f)
    lines += [f"{t['steps']} steps of batch {t['batch_size']}, {t['samples']} {t['sampler']} "
              f"samples per row, on {t['device']}, {t['date']}.", "",
              "| recipe | Fréchet (reference) | KID (reference) | Fréchet (second) | "
              "KID (second) | training |", "|---|---|---|---|---|---|"]
    for r in t["rows"]:
        lines.append(f"| {r['variant']} | {_fmt(r['reference_frechet'])} | "
                     f"{_fmt(r['reference_kid'])} | {_fmt(r['second_frechet'])} | "
                     f"{_fmt(r['second_kid'])} | {_minutes(r['train_seconds'])} |")
    return lines + ["", t["note"], ""] if t.get("note") else lines + [""]


def _manifest() -> dict:
    """The checkpoints' manifest entries, or {} where there is no manifest."""
    from cvbook import checkpoints

    try:
        return checkpoints.manifest()
    except checkpoints.CheckpointError:
        return {}


def _older_checkpoints(rel: str, date: str, entries: dict) -> list[str]:
    """The checkpoints (of manifest ``entries``) that ``rel`` loads, rebuilt after ``date``."""
    import re

    with open(os.path.join(ROOT, rel)) as f:
        names = sorted(set(re.findall(r'checkpoints\.load\(\\?"(\w+)', f.read())))
    return [f"`{n}` ({entries[n]['date']})" for n in names
            if n in entries and entries[n]["date"] > date]


def _older_settings(profile: str, rel: str, row: dict) -> bool:
    """Whether ``row`` was measured before a change of the profile's settings for ``rel``."""
    change = PROFILE_CHANGES.get((profile, rel))
    return change is not None and row["date"] < change[0]


WRAP = "_\u200b"


def _checkpoint_section() -> list[str]:
    """The shipped checkpoints, from their manifest: what, how made, scores."""
    from cvbook import checkpoints

    lines = ["## Checkpoints", "",
             "The weights the chapters load to show full-scale results (`src/cvbook/weights/`). "
             "Every one was trained from scratch by `make checkpoints` in the full profile on "
             "real Fashion-MNIST; generated images are scored with the reference scorer (the "
             "first row), the one ruler behind every Fréchet distance and KID in the book; "
             "scores named `second_...` use the second scorer (the second row), which checks "
             "its rankings.", ""]
    try:
        entries = checkpoints.manifest()
    except checkpoints.CheckpointError as err:
        return lines + [f"Not available: {err}", ""]
    lines += ["| checkpoint | what | training | wall time | hardware | scores | made |",
              "|---|---|---|---|---|---|---|"]
    for name, e in entries.items():
        # a zero-width space after each underscore lets long score names wrap in the table
        scores = ", ".join(f"{k.replace('_', WRAP)} {_fmt(v)}" for k, v in e["scores"].items())
        lines.append(f"| {name} | {e['what']} | {e['training']} | "
                     f"{_minutes(e['wall_seconds'])} | {e['hardware']} | {scores} | "
                     f"{e['date']} |")
    lines.append("")
    return lines


def write_page() -> str:
    with open(PAGE, "w") as f:
        f.write(render())
    return PAGE


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "page"])
    parser.add_argument("paths", nargs="*", help="notebooks (default: every chapter)")
    parser.add_argument("--profile", default=os.environ.get("COURSE_PROFILE", "smoke"),
                        choices=PROFILE_NAMES)
    args = parser.parse_intermixed_args(argv)  # `run --profile full NB ...` works too
    if args.command == "run":
        paths = [os.path.relpath(os.path.abspath(p), ROOT) for p in args.paths] or \
            nbtools.notebooks(("chapters",))
        table = run(paths, args.profile)
        print(f"\n{'notebook':40s} {'seconds':>8s}  metrics")
        for rel in paths:
            row = table["rows"][rel]
            print(f"{rel:40s} {row['seconds']:8.1f}  " + (f"FAILED {row['failed']}; " if
                                                          row.get("failed") else "") +
                  ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(row["metrics"].items())))
        print(f"results page: {write_page()}")
        return 1 if any(table["rows"][rel].get("failed") for rel in paths) else 0
    print(f"results page: {write_page()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
