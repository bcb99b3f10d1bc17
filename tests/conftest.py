"""Shared setup for the tests: quiet TensorFlow, the smoke profile, and the tools on the path.

Do not set MPLBACKEND here: notebook kernels inherit the environment, and a non-inline backend
would silently drop every figure from the executed notebooks (and so from the book).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

# Set before TensorFlow is imported here or in any notebook kernel (kernels inherit them).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["COURSE_PROFILE"] = "smoke"
