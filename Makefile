# Everyday commands. Run them inside the course's virtual environment (see README).
PYTHON ?= python
PYTEST = $(PYTHON) -m pytest -p no:cacheprovider
WORKERS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: help test full-path book lab clean-notebooks launch-sync bench checkpoints

help:
	@echo "make test      unit tests, every notebook in smoke, lab checks, marked outputs, book build"
	@echo "make full-path every chapter's full-profile code path with tiny knobs, under nbval"
	@echo "make book      execute the notebooks (COURSE_PROFILE=smoke|full) and build the book"
	@echo "make lab       open JupyterLab on the labs"
	@echo "make clean-notebooks   strip outputs before committing (keeps nbval's outputs)"
	@echo "make launch-sync       rewrite Colab badges/setup cells after editing _config.yml"
	@echo "make bench [PROFILE=full] [NOTEBOOKS=...]  time notebooks, record metrics, rewrite results.md"
	@echo "make checkpoints   retrain the shipped checkpoints from scratch, rewrite their manifest"

# 1) unit tests + papermill run of every notebook in the smoke profile (labs must fail their
#    checks), in parallel; the cells marked NBVAL_CHECK_OUTPUT (shapes, parameter counts, which
#    weights train: facts that hold in every profile) must print what is committed with them;
# 2) the book, built from the notebooks executed in step 1, warnings as errors.
# --maxschedchunk 1: xdist's default hands each worker a block of consecutive tests, which put
# every notebook run (sorted first, see tests/conftest.py) on one worker while the other idled.
test:
	$(PYTEST) -n $(WORKERS) --maxschedchunk 1 -m "not book" --durations=12 tests
	$(PYTEST) -m book tests

# The chapters in the *full* profile with COURSE_OVERRIDES=quick (every knob tiny, result
# checks off), under nbval: proves that every chapter's full-profile code path runs, offline,
# and prints the committed facts. CI runs it on the oldest supported stack (.ci/oldest), the
# drift check on the newest releases; run it after changing a full-profile knob.
full-path:
	COURSE_PROFILE=full COURSE_OVERRIDES=quick $(PYTEST) -n $(WORKERS) --dist loadfile --nbval-lax --nbval-current-env chapters

book:
	$(PYTHON) tools/book.py

lab:
	$(PYTHON) -m jupyter lab labs/

clean-notebooks:
	$(PYTHON) tools/notebooks.py clean

launch-sync:
	$(PYTHON) tools/launch.py sync

PROFILE ?= smoke
bench:
	$(PYTHON) benchmarks/bench.py run --profile $(PROFILE) $(NOTEBOOKS)

# retrain every checkpoint in src/cvbook/weights/ from scratch (about 90 minutes on a 2-core CPU)
checkpoints:
	$(PYTHON) tools/train_checkpoints.py build
