"""Rule: what a chapter runs from the course's model code, it shows (no need to open src/).

The chapters keep their building blocks in the package (the labs, the benchmark and the tests
use the same ones) and print each with ``plots.show_source`` straight from the file that runs,
so the code on the page cannot drift from the code that executes. This test reads every
chapter's code cells and fails when one uses a function or class of the "idea" modules below
that neither it nor an earlier chapter shows -- including the helpers those call (``_block``
inside ``unet``, ``Schedule`` in the samplers' signatures).
"""

import ast
import importlib
import inspect
import os
import textwrap

import nbformat
import pytest

import notebooks as nbtools

IDEA_MODULES = ("gan", "diffusion", "models", "metrics", "applications", "transfer",
                "detection", "translation", "captions", "text2image")  # data, plots: plumbing
ALIASES = {"app": "applications", "t2i": "text2image"}  # `from cvbook import ... as app`
PLUMBING = {"cvbook.models.epoch_log",  # a progress printer, not an idea of the course
            # selecting and counting images; the online path's download wrapper (the prose
            # names the one Keras call it makes)
            "cvbook.transfer.pick_classes", "cvbook.transfer.few_per_class",
            "cvbook.transfer.accuracy", "cvbook.transfer.imagenet_backbone",
            # the scorer's plumbing: input checks, the result record, loading the checkpoint
            # (chapter 4 shows the distances and ImageScorer.score)
            "cvbook.metrics._two_feature_sets", "cvbook.metrics.Score",
            "cvbook.metrics.reference_scorer", "cvbook.metrics.second_scorer",
            "cvbook.metrics._shipped_scorer",
            # sample()'s argument checks, kept out of the loop the chapter reads
            "cvbook.diffusion.Diffusion._checked_sample_args",
            "cvbook.diffusion._check_optimizer_args",  # optimizer's, likewise
            # the box arrays' shape and xyxy checks, shared by encode, nms and coco_map
            "cvbook.detection._boxes_and_labels",
            # shuffling and batching the translation pairs (and checking they match)
            "cvbook.translation.paired_dataset", "cvbook.translation.unpaired_dataset",
            # the text-to-image chapter's: selecting the held-out images, writing and listing
            # the test prompts, the prompts' checks, the tokenizer's lower-casing, the
            # denoisers' three Input layers, and sample()'s argument checks
            "cvbook.captions.held_out", "cvbook.text2image.prompt",
            "cvbook.text2image.test_combinations", "cvbook.text2image._checked_prompts",
            "cvbook.text2image._standardize", "cvbook.text2image._inputs",
            "cvbook.text2image.TextDiffusion._checked_sample_args"}
CHAPTERS = nbtools.notebooks(["chapters"])


def _module(name):
    return importlib.import_module(f"cvbook.{name}")


def _qualname(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def _code(rel):
    nb = nbformat.read(os.path.join(nbtools.ROOT, rel), as_version=4)
    lines = [line for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()
             if not line.lstrip().startswith(("!", "%"))]
    return ast.parse("\n".join(lines))


def _resolve(node):
    """``gan.GAN`` / ``diffusion.Diffusion.sample`` -> the object, or None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    name = ALIASES.get(getattr(node, "id", None), getattr(node, "id", None))
    if not isinstance(node, ast.Name) or name not in IDEA_MODULES or not parts:
        return None
    obj = _module(name)
    for part in reversed(parts):
        obj = getattr(obj, part, None)
    return inspect.unwrap(obj) if callable(obj) else obj


def _is_course_code(obj):
    return ((inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ in {f"cvbook.{m}" for m in IDEA_MODULES}
            and _qualname(obj) not in PLUMBING)


def _used_and_shown(tree):
    used, shown = set(), set()
    # `show_source(metrics.ImageScorer.score)` shows a method: naming its class there is not
    # a use of the whole class
    in_show = {id(n) for node in ast.walk(tree)
               if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "show_source"
               for arg in node.args for n in ast.walk(arg)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "show_source":
            for arg in node.args:
                obj = _resolve(arg)
                assert obj is not None, f"show_source of something not in {IDEA_MODULES}"
                shown.add(_qualname(obj))
        elif isinstance(node, ast.Attribute) and id(node) not in in_show:
            obj = _resolve(node)
            if _is_course_code(obj):
                used.add(obj)
    return used, shown


def _helpers(qualname):
    """Course functions and classes that the shown source of ``qualname`` refers to by name."""
    parts = qualname.split(".")  # cvbook.<module>.<name>[.<method>]
    module = importlib.import_module(".".join(parts[:2]))
    obj = module
    for part in parts[2:]:
        obj = getattr(obj, part)
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    found = {inspect.unwrap(getattr(module, n)) for n in names
             if callable(getattr(module, n, None))
             and _is_course_code(inspect.unwrap(getattr(module, n)))}
    return {o for o in found if _qualname(o) != qualname}


def _covers(shown, obj):
    """A class counts as shown when it is, or when every method it defines is."""
    if _qualname(obj) in shown:
        return True
    if inspect.isclass(obj):
        methods = [f"{_qualname(obj)}.{k}" for k, v in vars(obj).items()
                   if inspect.isfunction(v) and f"{_qualname(obj)}.{k}" not in PLUMBING]
        return bool(methods) and all(m in shown for m in methods)
    return False


def test_every_chapter_shows_the_course_code_it_runs():
    shown_so_far, missing = set(), []
    for rel in CHAPTERS:
        used, shown = _used_and_shown(_code(rel))
        shown_so_far |= shown
        for obj in sorted(used, key=_qualname):
            if not _covers(shown_so_far, obj):
                missing.append(f"{rel}: uses {_qualname(obj)} without showing it")
        for name in sorted(shown):
            for helper in _helpers(name):
                if not _covers(shown_so_far, helper):
                    missing.append(f"{rel}: shows {name} but not {_qualname(helper)}, which it "
                                   f"calls")
    assert not missing, "\n".join(missing)


def test_the_rule_catches_a_hidden_helper():
    shown = {"cvbook.diffusion.unet"}
    assert {_qualname(h) for h in _helpers("cvbook.diffusion.unet")} >= {"cvbook.diffusion._block"}
    assert not _covers(shown, _module("diffusion")._block)
    assert not _covers({"cvbook.diffusion.Diffusion.train_step"}, _module("diffusion").Diffusion)


@pytest.mark.parametrize("bad", [42, "unet"])
def test_show_source_names_what_it_takes(bad):
    from cvbook import plots

    with pytest.raises(TypeError, match="functions, methods or classes"):
        plots.show_source(bad)


def test_a_class_named_beside_a_shown_method_still_counts_as_used():
    tree = ast.parse("plots.show_source(metrics.ImageScorer.score)\n"
                     "metrics.ImageScorer(None, None, 10)")
    used, shown = _used_and_shown(tree)
    scorer = _module("metrics").ImageScorer
    assert scorer in used and not _covers(shown, scorer)
    used, _ = _used_and_shown(ast.parse("plots.show_source(metrics.ImageScorer.score)"))
    assert scorer not in used


MAX_SHOWN_LINES = 80  # one show_source call: what the prose next to it can walk through


def test_each_show_source_call_fits_what_the_prose_can_walk_through():
    too_long = []
    for rel in CHAPTERS:
        for node in ast.walk(_code(rel)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "show_source":
                lines = sum(len(inspect.getsource(_resolve(a)).splitlines()) for a in node.args)
                if lines > MAX_SHOWN_LINES:
                    too_long.append(f"{rel}: {ast.unparse(node)} shows {lines} lines")
    assert not too_long, "\n".join(too_long)
