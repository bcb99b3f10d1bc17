"""How fast is this machine for the course's TensorFlow work? A calibration for the time budgets.

    python benchmarks/machine.py [--steps 100]

Trains chapter 2's CNN (``models.small_cnn``, width 32, dropout 0.25, batch 128, 28x28x1) for
``--steps`` steps after a warm-up, each run in a fresh process, and prints the seconds per 100
steps three ways:

- alone, with TensorFlow's default threads (a learner running one notebook);
- alone, on one thread;
- two one-thread processes at once, the way ``make test``'s two workers run notebooks.

The last two give the cores TensorFlow really gets when two processes train at once. The
course's budgets (``make test`` under 10 minutes on 2 cores) were planned at about 10 s per
60,000-image epoch, 2.1 s per 100 steps; compare the first line with that figure. The images are
random (timing does not depend on pixel values), so no dataset is needed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys

PLANNED_SECONDS_PER_100 = 10.0 * 100 / 469  # 10 s per epoch of 60,000 images at batch 128


def device() -> str:
    """A short description of the hardware the notebooks or a checkpoint ran on."""
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True)
        names = [n.strip() for n in out.stdout.splitlines() if n.strip()]
        if out.returncode == 0 and names:
            return f"GPU: {names[0]}" + (f" (x{len(names)})" if len(names) > 1 else "")
    cpu = platform.processor() or platform.machine()
    try:  # the model name tells two machines of the same architecture apart (Linux only)
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
        cpu = f"{model} ({cpu})"
    except (OSError, StopIteration):
        pass
    return f"CPU: {cpu}, {os.cpu_count()} cores (no GPU)"


def time_steps(steps: int) -> float:
    """Seconds for ``steps`` training steps of chapter 2's CNN, after a 10-step warm-up."""
    import time

    import numpy as np

    from cvbook import models

    rng = np.random.default_rng(0)
    n = 128 * steps
    x = rng.random((n, 28, 28, 1), dtype="float32")
    y = rng.integers(0, 10, n)
    model = models.compile_classifier(models.small_cnn((28, 28, 1), 10, width=32, dropout=0.25))
    model.fit(x[:1280], y[:1280], batch_size=128, epochs=1, verbose=0)  # builds and traces
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    return time.perf_counter() - start


def _spawn(steps: int, threads: int | None) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads))
    return subprocess.Popen([sys.executable, __file__, "--worker", "--steps", str(steps)],
                            env=env, stdout=subprocess.PIPE, text=True)


def _seconds(proc: subprocess.Popen) -> float:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the timing process failed (exit {proc.returncode})")
    return float(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per run (>= 10)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 10:
        parser.error(f"--steps must be at least 10, got {args.steps}")
    if args.worker:
        print(time_steps(args.steps))
        return 0
    per_100 = lambda s: 100 * s / args.steps
    default = per_100(_seconds(_spawn(args.steps, None)))
    one = per_100(_seconds(_spawn(args.steps, 1)))
    pair = [_spawn(args.steps, 1), _spawn(args.steps, 1)]
    together = max(per_100(_seconds(p)) for p in pair)
    print(f"chapter 2's CNN, seconds per 100 steps of 128 images ({os.cpu_count()} CPUs seen):")
    print(f"  alone, default threads:      {default:6.2f} s  ({default / PLANNED_SECONDS_PER_100:.1f}x "
          f"the {PLANNED_SECONDS_PER_100:.1f} s the budgets were planned with)")
    print(f"  alone, one thread:           {one:6.2f} s")
    print(f"  two one-thread runs at once: {together:6.2f} s each: TensorFlow gets about "
          f"{2 * one / together:.1f} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
