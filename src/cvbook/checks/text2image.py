"""Checks for the text-to-image lab: the pieces that let a caption steer a diffusion model.

- cross-attention: the image tokens ask (queries), the caption's tokens answer (keys and
  values), and the padding at the end of a short caption is masked out;
- caption dropout: in training, some captions are replaced by the empty caption, so that
  one network learns both the conditional and the unconditional noise estimate;
- classifier-free guidance: in sampling, the two estimates are combined and pushed away
  from the unconditional one by a guidance weight w (w = 0: the plain conditional model);
- prompts of the learner's own that ask the shipped model for a texture, half of each value.

Each check runs the learner's function on random inputs (fixed seeds) and compares it with
a private reference. When the answer is wrong, it is also compared with the classic
mistakes, so the hint can name the one that was made.
"""

from __future__ import annotations

import re

import numpy as np

from . import LabCheckError, call, expect, guarded, passed, require
from .diffusion import _as_array, _close  # as checks.applications does

# Words of the errors NumPy, TensorFlow and Keras raise when two shapes do not fit.
_SHAPE_WORDS = ("shape", "mismatch", "align", "broadcast", "incompatible", "dimension",
                "size")


def _shape_error(err: Exception) -> str:
    """The first line of ``err`` if it is about shapes that do not fit, else ''."""
    message = str(err).strip().splitlines()[0][:150] if str(err).strip() else ""
    return message if any(w in message.lower() for w in _SHAPE_WORDS) else ""


# --- Exercise 1: cross-attention ----------------------------------------------------------

_ROLES = ("Queries come from the image tokens (image_tokens @ wq: [B, N, d]); keys and "
          "values from the caption (text_tokens @ wk and text_tokens @ wv: [B, S, d]). "
          "The scores q @ k^T are [B, N, S], one row of caption weights per image token: "
          "transpose only the last two axes of k, np.swapaxes(k, 1, 2) (k.T reverses all "
          "three). The mask [B, S] lines up with the scores as text_mask[:, None, :].")


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _attention(image, text, mask, wq, wk, wv, scale=None, axis=-1, keep=None, values=None):
    """The reference answer of exercise 1; the keywords make its classic mistakes."""
    q, k = image @ wq, text @ wk
    v = text @ (wv if values is None else values)
    scale = 1 / np.sqrt(wq.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, 1, 2) * scale
    keep = mask if keep is None else keep
    return _softmax(np.where(keep[:, None, :], scores, -1e9), axis) @ v


def _attention_case(seed: int, n: int, c_img: int, c_txt: int, d: int, lengths) -> tuple:
    """Image tokens [B, n, c_img], caption tokens [B, S, c_txt] whose row i has lengths[i]
    real tokens (then padding), and projections scaled so that the scores stay near 1."""
    rng = np.random.default_rng(seed)
    b, s = len(lengths), max(lengths)
    image = rng.normal(size=(b, n, c_img))
    text = rng.normal(size=(b, s, c_txt))
    mask = np.arange(s)[None, :] < np.asarray(lengths)[:, None]
    wq = rng.normal(size=(c_img, d)) / np.sqrt(c_img)
    wk = rng.normal(size=(c_txt, d)) / np.sqrt(c_txt)
    wv = rng.normal(size=(c_txt, d)) / np.sqrt(c_txt)
    return image, text, mask, wq, wk, wv


# Two cases: N != S, c_img != c_txt, B != d (so that k.T fails instead of running), and
# B != N (so that a mask without its new axis fails too). Every caption keeps a real token;
# row 0 has no padding (its mask is all True), the other rows have some.
_CASES = (dict(seed=0, n=6, c_img=7, c_txt=3, d=9, lengths=(5, 1, 3, 2)),
          dict(seed=1, n=3, c_img=2, c_txt=5, d=4, lengths=(7, 4)))


def _attention_mistakes(image, text, mask, wq, wk, wv) -> list:
    """(hint, what that mistake returns, the rows where it is defined: None for all)."""
    d = wq.shape[-1]
    case = (image, text, mask, wq, wk, wv)
    everything = np.ones_like(mask)
    over_image = ("The softmax runs over the image positions (axis 1): each image token "
                  "shares its attention among the caption's tokens, so normalise over the "
                  "last axis, the text positions (axis -1).")
    return [
        (over_image, _attention(*case, axis=1), None),  # padded scores set to -1e9
        (over_image, _attention(*case, axis=1, keep=everything), None),  # or -1e9 added
        ("The scores are not scaled: divide q @ k^T by sqrt(d) (d = wq.shape[-1]), or "
         "the softmax saturates as d grows.", _attention(*case, scale=1.0), None),
        ("The scores are divided by d: the scale is 1 / sqrt(d), the spread of a dot "
         "product of d terms.", _attention(*case, scale=1 / d), None),
        ("The values come from the keys' projection (wk): the values are "
         "text_tokens @ wv, their own projection.", _attention(*case, values=wk), None),
        ("Padding tokens are attended to: the mask is ignored. Before the softmax, set the "
         "scores of padded keys to a large negative number, np.where(text_mask[:, None, :],"
         " scores, -1e9), so that they get weight 0.",
         _attention(*case, keep=everything), None),
        # only the rows with padding: in a caption without any, every score is masked
        ("The mask polarity is reversed: only the padding is attended to. text_mask is "
         "True for a real token: keep the scores where it is True and push the others to "
         "a large negative number.", _attention(*case, keep=~mask), ~mask.all(axis=1)),
    ]


def _diagnose_attention(got, case: tuple, label: str, first: bool) -> None:
    image, text, mask, wq, wk, wv = case
    (b, n, _), s, d = image.shape, text.shape[1], wq.shape[-1]
    ref = _attention(*case)
    got = _as_array(got, "cross_attention")
    expect(got.shape != (b, s, d), f"cross_attention returned shape {got.shape} = "
           f"[B, S, d] on {label}: one row per caption token, so the queries came from the "
           f"caption. Expected [B, N, d] = {ref.shape}, one row per image token. " + _ROLES)
    expect(got.shape != (b, n, s), f"cross_attention returned shape {got.shape} = "
           f"[B, N, S] on {label}: the attention weights. Return the weights times the "
           f"values, weights @ v ([B, N, d]).")
    expect(got.shape == ref.shape, f"cross_attention returned shape {got.shape} on "
           f"{label}; expected [B, N, d] = {ref.shape}. " + _ROLES)
    if _close(got, ref):
        return
    for hint, wrong, rows in _attention_mistakes(*case):
        rows = slice(None) if rows is None else rows
        expect(_close(wrong[rows], ref[rows]) or not _close(got[rows], wrong[rows]), hint)
    expect(np.all(np.isfinite(got)), f"cross_attention contains NaN or inf on {label}: "
           "0 * -inf is NaN (so mask * -np.inf gives NaN), and so is a softmax over scores "
           "that are all -inf. Fill the padded scores with a large negative number, "
           "np.where(text_mask[:, None, :], scores, -1e9), and take the softmax over the "
           "last axis.")
    padded = ~mask.all(axis=1)
    row_ok = np.array([_close(g, r) for g, r in zip(got, ref)])
    expect(not row_ok[~padded].all(), f"cross_attention is right for the caption without "
           f"padding but wrong for padded ones (rows {np.flatnonzero(~row_ok).tolist()} of "
           f"{label}): the mask is not applied right. Push the padded scores to a large "
           f"negative number *before* the softmax, so that each image token's weights "
           f"still add up to 1 over the real tokens.")
    where = "" if first else (" It was right on the first example: are sizes hard-coded? "
                              "Take d from wq.shape[-1], the others from the inputs.")
    expect(False, f"cross_attention does not match the reference on {label} (largest "
           f"difference {np.abs(got - ref).max():.3g}).{where} Compare with the recipe: "
           f"q = image_tokens @ wq, k = text_tokens @ wk, v = text_tokens @ wv, scores = "
           f"q @ k^T / sqrt(d), masked, softmax over the text positions, then @ v.")


def _call_attention(cross_attention, case: tuple, label: str):
    """The learner's output; an error about shapes gets a hint on who plays which role."""
    try:
        return call(cross_attention, "cross_attention", *(a.copy() for a in case))
    except LabCheckError:
        raise
    except Exception as err:  # noqa: BLE001 - NumPy, TensorFlow, Keras: each its own type
        message = _shape_error(err)
        if not message:
            raise
        raise LabCheckError(f"cross_attention raised {type(err).__name__} on {label}: "
                            f"{message}\nThe shapes do not fit. {_ROLES}") from None


@guarded
def check_cross_attention(cross_attention) -> None:
    """Image tokens attend to the caption's real tokens: softmax(q k^T / sqrt(d)) v."""
    require(cross_attention, "cross_attention")
    for i, spec in enumerate(_CASES):
        case = _attention_case(**spec)
        image, text, _, wq, _, _ = case
        label = (f"example {i + 1} (B={len(image)}, N={image.shape[1]}, "
                 f"S={text.shape[1]}, c_img={image.shape[2]}, c_txt={text.shape[2]}, "
                 f"d={wq.shape[1]})")
        got = _call_attention(cross_attention, case, label)
        _diagnose_attention(got, case, label, first=i == 0)
    passed("cross_attention: each image token spreads its attention over the caption's "
           "real tokens (scores scaled by 1/sqrt(d), padding masked), on captions with and "
           "without padding")


# --- Exercise 2: caption dropout ----------------------------------------------------------

START, LENGTH = 1, 8  # the start token (padding is 0) and the captions' length


def _captions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random captions (a start token, 1 to 6 words, padding zeros), the empty one."""
    rng = np.random.default_rng(seed)
    words = rng.integers(2, 1000, size=(n, LENGTH))
    lengths = rng.integers(1, LENGTH - 1, size=n)
    ids = np.where(np.arange(LENGTH)[None, :] <= lengths[:, None], words, 0)
    ids[:, 0] = START
    null = np.zeros(LENGTH, dtype=ids.dtype)
    null[0] = START
    return ids, null


def _drop(drop_captions, ids: np.ndarray, null: np.ndarray, rate: float, seed: int):
    """The learner's output on a copy of ``ids``, as an array; hints for a change of the
    input in place, a per-row draw that does not broadcast, a wrong shape or dtype."""
    given = ids.copy()
    try:
        out = call(drop_captions, "drop_captions", given, null.copy(), rate,
                   np.random.default_rng(seed))
    except LabCheckError:
        raise
    except ValueError as err:
        if "broadcast" not in str(err):
            raise
        raise LabCheckError(f"drop_captions raised ValueError: {_shape_error(err)}\nOne "
                            "random draw per row, rng.random(len(token_ids)) < rate, has "
                            "shape [B]: give it a new axis, drop[:, None], to choose whole "
                            "rows of the [B, L] token ids.") from None
    expect(np.array_equal(given, ids), "drop_captions changed token_ids in place: the "
           "caller still needs the real captions (the next epoch drops other rows). Build "
           "a new array: np.where(drop[:, None], null_ids, token_ids), or copy first, "
           "token_ids.copy().")
    got = np.asarray(out)
    expect(got.shape == ids.shape, f"drop_captions returned shape {got.shape}; expected "
           f"the shape of token_ids, {ids.shape}.")
    expect(np.issubdtype(got.dtype, np.integer), f"drop_captions returned {got.dtype} "
           "values: token ids are integers (they index the embedding table). Keep the "
           "integer dtype (np.where on two int arrays keeps it).")
    return got


@guarded
def check_drop_captions(drop_captions) -> None:
    """Each row becomes null_ids with probability rate, independently, drawn from rng."""
    require(drop_captions, "drop_captions")
    ids, null = _captions(4000, seed=0)
    got = _drop(drop_captions, ids, null, 0.2, seed=0)
    expect(not np.array_equal(got, ids), "Captions are never dropped: at rate 0.2, about a "
           "fifth of the 4000 captions should be replaced by null_ids. Draw one random "
           "number per row from rng and drop the rows where it is below rate.")
    changed = (got != ids).any(axis=1)
    dropped = (got == null).all(axis=1)  # no caption of the check is empty to begin with
    odd = changed & ~dropped
    if odd.any():
        g, o = got[odd], ids[odd]
        expect(not (g == 0).all(), "The dropped captions are all zeros: the empty caption "
               "is null_ids, a start token then padding. Replace the row by null_ids, so "
               "that it is the caption the unconditional estimate is asked with.")
        expect(not ((g == o) | (g == null) | (g == 0)).all(), "Single tokens were dropped, "
               "not whole captions: draw one random number per *row* (rng.random(B), not "
               "rng.random(token_ids.shape)) and replace the whole row by null_ids.")
        expect(False, f"{odd.sum()} rows changed without becoming null_ids: a dropped row "
               "must equal null_ids exactly, and the others stay as they are.")
    share = dropped.mean()
    # 4000 independent rows at rate 0.2: the share dropped is binomial / 4000, with standard
    # deviation sqrt(0.2 * 0.8 / 4000) = 0.0063, so 0.03 is a margin of over 4.5 of them.
    expect(abs(share - 0.8) >= 0.03, f"The rate is inverted: {share:.0%} of the captions "
           "were dropped at rate 0.2, so a row is *kept* with probability rate. Drop it "
           "where rng.random(B) < rate.")
    expect(abs(share - 0.2) < 0.03, f"{share:.1%} of the captions were dropped at rate "
           "0.2; expected 20% +- 3%. Each row is dropped on its own with probability rate: "
           "one draw per row, drop = rng.random(len(token_ids)) < rate.")
    few, few_null = _captions(50, seed=1)
    expect(np.array_equal(_drop(drop_captions, few, few_null, 0.0, seed=1), few),
           "At rate 0 no caption should change: drop where rng.random(B) < rate.")
    expect((_drop(drop_captions, few, few_null, 1.0, seed=1) == few_null).all(),
           "At rate 1 every caption should be replaced by null_ids.")
    rows, rows_null = _captions(400, seed=2)
    one, again = (_drop(drop_captions, rows, rows_null, 0.5, seed=5) for _ in range(2))
    expect(np.array_equal(one, again), "Two calls with generators of the same seed dropped "
           "different rows: draw the randomness from the `rng` argument (rng.random), not "
           "from np.random's global state, so that a seed reproduces a run.")
    other = _drop(drop_captions, rows, rows_null, 0.5, seed=6)
    expect(not np.array_equal(one, other), "Generators of different seeds dropped the same "
           "rows: is a generator with a fixed seed made inside drop_captions? Draw from "
           "the `rng` argument, so that each batch drops other captions.")
    passed(f"drop_captions: {share:.1%} of 4000 captions replaced by the empty caption at "
           f"rate 0.2, whole rows; none at rate 0, all at rate 1; reproducible from rng")


# --- Exercise 3: classifier-free guidance -------------------------------------------------

def _guided(eps_cond, eps_uncond, w):
    """The reference answer of exercise 3 (w = 0: the plain conditional model)."""
    return (1 + w) * eps_cond - w * eps_uncond


_REVERSED = ("The guidance points the wrong way: it pushes the estimate toward the "
             "unconditional one, away from the caption. Go from eps_uncond *past* "
             "eps_cond: (1 + w) * eps_cond - w * eps_uncond.")
_SHIFTED = ("That is the other common convention, w * eps_cond + (1 - w) * eps_uncond: the "
            "same idea with the weight shifted by one (there, w = 1 means no guidance). "
            "This course uses w = 0 for no guidance: (1 + w) * eps_cond - w * eps_uncond.")
_NO_ONE = ("w is applied without the (1 + w): eps_cond gets the weight 1 + w and "
           "eps_uncond the weight -w, so that the weights add up to 1 and w = 0 gives "
           "eps_cond back: (1 + w) * eps_cond - w * eps_uncond.")
_REFUSE = "if w < 0: raise ValueError(f'the guidance weight w must be >= 0, got {w}')"


@guarded
def check_guided_noise(guided_noise) -> None:
    """(1 + w) * eps_cond - w * eps_uncond, and a ValueError for a weight w below 0."""
    require(guided_noise, "guided_noise")
    c, u = np.random.default_rng(3).normal(size=(2, 3, 4, 4, 2))
    for w in (3.0, 0.0, 1.5):
        try:
            out = call(guided_noise, "guided_noise", c.copy(), u.copy(), w)
        except ValueError as err:
            raise LabCheckError(f"guided_noise raised ValueError for w = {w:g}: {err}. "
                                "Refuse only a weight below 0: w = 0 is the plain "
                                "conditional model.") from None
        got = _as_array(out, "guided_noise")
        expect(got.shape == c.shape, f"guided_noise returned shape {got.shape}; expected "
               f"the shape of eps_cond, {c.shape}.")
        want = _guided(c, u, w)
        if _close(got, want):
            continue
        for hint, wrong in ((_REVERSED, (1 + w) * u - w * c), (_REVERSED, c - w * (c - u)),
                            (_SHIFTED, w * c + (1 - w) * u), (_NO_ONE, c + w * u),
                            (_NO_ONE, c - w * u), (_NO_ONE, w * (c - u))):
            expect(not _close(got, wrong), hint)
        expect(False, f"guided_noise does not match (1 + w) * eps_cond - w * eps_uncond "
               f"for w = {w:g} (largest difference {np.abs(got - want).max():.3g}).")
    refused = None
    try:
        guided_noise(c.copy(), u.copy(), -1.0)
    except Exception as err:  # noqa: BLE001 - a ValueError, or an assert, a TypeError...
        refused = err
    expect(refused is not None, "guided_noise accepted w = -1: a guidance weight below 0 "
           "pushes toward the unconditional model, and must be refused. Start with: "
           + _REFUSE + ".")
    expect(isinstance(refused, ValueError), f"guided_noise raised {type(refused).__name__} "
           f"for w = -1: raise ValueError (an argument has a wrong value): {_REFUSE}.")
    expect(re.search(r"\bw\b", str(refused)), f"guided_noise refuses w = -1, good, but its "
           f"message ({str(refused)[:80]!r}) should name the weight w, so that the caller "
           f"knows which argument is wrong: {_REFUSE}.")
    passed("guided_noise: (1 + w) * eps_cond - w * eps_uncond, eps_cond itself at w = 0, "
           "and w < 0 refused")


@guarded
def check_texture_prompts(texture_prompts) -> None:
    """Exercise 4: prompts that ask for a texture, as many "plain" as "patterned", in words
    the model knows."""
    from .. import captions, text2image

    prompts = require(texture_prompts, "texture_prompts")
    expect(isinstance(prompts, (list, tuple)) and prompts and all(
        isinstance(p, str) for p in prompts),
        "texture_prompts should be a list of strings, such as ['a plain bag', "
        "'a patterned bag'].")
    for p in prompts:
        try:
            text2image.tokenize(p)
            _, asked = captions.parse(p)
        except ValueError as err:
            raise LabCheckError(f"{err}") from None
        expect("texture" in asked, f"{p!r} does not ask for a texture: add 'plain' or "
               "'patterned'.")
    textures = [captions.parse(p)[1]["texture"] for p in prompts]
    expect(textures.count(0) == textures.count(1),
           f"{textures.count(0)} prompts ask for 'plain' and {textures.count(1)} for "
           "'patterned': ask for as many of each, so that 50% is what chance gives.")
    passed(f"texture_prompts: {len(prompts)} prompts, half plain, half patterned")
