"""Shared setup for the tests: quiet TensorFlow, the smoke profile, and the tools on the path."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

# Set before TensorFlow is imported here or in any notebook kernel (kernels inherit them).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["COURSE_PROFILE"] = "smoke"
os.environ.setdefault("MPLBACKEND", "Agg")
