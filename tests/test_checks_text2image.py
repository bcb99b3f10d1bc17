"""The text-to-image lab's checks accept right answers and name the classic mistakes."""

import numpy as np
import pytest

from cvbook.checks import LabCheckError
from cvbook.checks import text2image as checks

STUBS = [None, lambda *a: None]


def not_implemented(*args):
    raise NotImplementedError


STUBS.append(not_implemented)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def attention_ok(image, text, mask, wq, wk, wv, roles="right", axis=-1, scale="sqrt",
                 fill="where", keep="mask", values="wv", transpose="swap", new_axis=True,
                 d_fixed=None, weights_only=False):
    """Exercise 1; the keywords make its classic mistakes."""
    image, text, mask = np.asarray(image), np.asarray(text), np.asarray(mask)
    if roles == "right":
        q, k, v = image @ wq, text @ wk, text @ (wv if values == "wv" else wk)
    elif roles == "text queries":  # the same matrices, the other tokens: shapes do not fit
        q, k, v = text @ wq, image @ wk, image @ wv
    else:  # "text queries, runs": projections chosen so that it runs, [B, S, d]
        q, k, v = text @ wk, image @ wq, image @ wq
    d = wq.shape[-1] if d_fixed is None else d_fixed
    kt = np.swapaxes(k, 1, 2) if transpose == "swap" else k.T
    scores = q @ kt * {"sqrt": 1 / np.sqrt(d), "none": 1.0, "d": 1 / d}[scale]
    m = {"mask": mask, "ignored": np.ones_like(mask), "reversed": ~mask}[keep]
    if roles == "text queries, runs":  # the scores are [B, S, N]: the text on axis 1
        m = m[:, :, None]
    else:
        m = m[:, None, :] if new_axis else m
    if fill == "where":
        scores = np.where(m, scores, -1e9)
    elif fill == "inf":
        scores = np.where(m, scores, -np.inf)
    elif fill == "add":
        scores = scores + (1 - m) * -1e9
    elif fill == "times inf":  # 0 * -inf is NaN
        scores = scores + (1 - m) * -np.inf
    weights = softmax(scores, axis)
    if fill == "after softmax":
        weights = softmax(scores, axis) * m
    return weights if weights_only else weights @ v


def attention_keras(image, text, mask, wq, wk, wv):
    """A right answer in keras.ops: it returns a tensor."""
    from keras import ops

    q, k, v = ops.matmul(image, wq), ops.matmul(text, wk), ops.matmul(text, wv)
    scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) / np.sqrt(wq.shape[-1])
    scores = ops.where(mask[:, None, :], scores, -1e9)
    return ops.matmul(ops.softmax(scores, axis=-1), v)


def test_right_answers_pass(capsys):
    checks.check_cross_attention(attention_ok)
    checks.check_cross_attention(lambda *a: attention_ok(*a, fill="inf"))
    checks.check_cross_attention(lambda *a: attention_ok(*a, fill="add"))
    checks.check_drop_captions(drop_ok)
    checks.check_guided_noise(guided_ok)
    checks.check_guided_noise(lambda *a: guided_ok(*a, form="uncond + (1+w)(c-u)"))
    assert capsys.readouterr().out.count("\u2713") == 6


def test_keras_tensors_are_accepted(capsys):
    from keras import ops

    checks.check_cross_attention(attention_keras)
    checks.check_guided_noise(lambda c, u, w: ops.convert_to_tensor(guided_ok(c, u, w)))
    checks.check_drop_captions(lambda *a: ops.convert_to_tensor(drop_ok(*a)))
    assert capsys.readouterr().out.count("\u2713") == 3


def test_check_cases_make_the_mistakes_distinct():
    """Every named mistake changes the answer on both of the check's examples (else its test
    below could pass by accident), and the cases hold the promised paddings and sizes."""
    for spec in checks._CASES:
        case = checks._attention_case(**spec)
        image, text, mask, wq, _, _ = case
        b, n, s, d = len(image), image.shape[1], text.shape[1], wq.shape[1]
        assert n != s and image.shape[2] != text.shape[2] and b not in (d, n)
        assert mask.any(axis=1).all() and mask[0].all() and not mask[1:].all(axis=1).any()
        ref = checks._attention(*case)
        assert np.allclose(ref, attention_ok(*case))
        for hint, wrong, rows in checks._attention_mistakes(*case):
            rows = slice(None) if rows is None else rows
            assert not checks._close(wrong[rows], ref[rows]), hint


@pytest.mark.parametrize("stub", STUBS)
def test_stubs_are_todos(stub, rejects):
    rejects(lambda: checks.check_cross_attention(stub), "still a TODO")
    rejects(lambda: checks.check_drop_captions(stub), "still a TODO")
    rejects(lambda: checks.check_guided_noise(stub), "still a TODO")


def test_not_a_function(rejects):
    rejects(lambda: checks.check_cross_attention(3), "should be a function")


@pytest.mark.parametrize("kwargs, hint", [
    (dict(roles="text queries"), "The shapes do not fit"),
    (dict(roles="text queries, runs"), "the queries came from the caption"),
    (dict(transpose="T"), "k.T reverses all"),
    (dict(new_axis=False), "text_mask[:, None, :]"),
    (dict(axis=1), "over the image positions"),
    (dict(axis=1, fill="add"), "over the image positions"),
    (dict(axis=1, fill="inf"), "NaN"),
    (dict(scale="none"), "not scaled"),
    (dict(scale="d"), "divided by d"),
    (dict(values="wk"), "keys' projection"),
    (dict(keep="ignored"), "the mask is ignored"),
    (dict(keep="reversed"), "polarity is reversed"),
    (dict(keep="reversed", fill="inf"), "polarity is reversed"),  # NaN in the unpadded row
    (dict(keep="reversed", fill="add"), "polarity is reversed"),  # unpadded row right
    (dict(fill="times inf"), "0 * -inf is NaN"),
    (dict(fill="after softmax"), "right for the caption without padding"),
    (dict(weights_only=True), "the attention weights"),
    (dict(d_fixed=9), "are sizes hard-coded"),  # d = 9 is right on example 1 only
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cross_attention_mistakes(kwargs, hint, rejects):
    answer = lambda *a: attention_ok(*a, **kwargs)  # noqa: E731
    rejects(lambda: checks.check_cross_attention(answer), hint)


def test_padding_hint_names_the_padded_rows():
    """Weights masked after the softmax (not renormalised) are wrong in padded rows only:
    the hint lists them, and not row 0, the caption without padding."""
    from cvbook.checks import LabCheckError

    with pytest.raises(LabCheckError, match=r"rows \[1, 2, 3\] of example 1"):
        checks.check_cross_attention(lambda *a: attention_ok(*a, fill="after softmax"))


def drop_ok(token_ids, null_ids, rate, rng, mode="rows", draw="rng"):
    """Exercise 2; the keywords make its classic mistakes."""
    ids = np.asarray(token_ids)
    b = len(ids)
    if draw == "rng":
        u = rng.random(b)
    elif draw == "global":
        u = np.random.random(b)
    else:  # "fixed seed"
        u = np.random.default_rng(0).random(b)
    drop = {"rows": u < rate, "inverted": u >= rate, "never": np.zeros(b, bool),
            "half": u < rate / 2, "floor": u < max(rate, 0.1)}.get(mode, u < rate)
    if mode == "in place":
        ids[drop] = null_ids
        return ids
    if mode == "zeros":
        return np.where(drop[:, None], 0, ids)
    if mode == "tokens":
        return np.where(rng.random(ids.shape) < rate, null_ids, ids)
    if mode == "tokens zeroed":
        return np.where(rng.random(ids.shape) < rate, 0, ids)
    if mode == "no new axis":
        return np.where(drop, null_ids, ids)
    if mode == "floats":
        return np.where(drop[:, None], null_ids, ids).astype("float32")
    if mode == "list":
        return [1, 2]
    return np.where(drop[:, None], null_ids, ids)


@pytest.mark.parametrize("kwargs, hint", [
    (dict(mode="never"), "never dropped"),
    (dict(mode="inverted"), "rate is inverted"),
    (dict(mode="zeros"), "all zeros"),
    (dict(mode="tokens"), "Single tokens were dropped"),
    (dict(mode="tokens zeroed"), "Single tokens were dropped"),
    (dict(mode="in place"), "in place"),
    (dict(mode="no new axis"), "new axis"),
    (dict(mode="floats"), "integer dtype"),
    (dict(mode="list"), "returned shape"),
    (dict(mode="half"), "expected 20% +- 3%"),
    (dict(mode="floor"), "At rate 0 no caption"),
    (dict(draw="global"), "np.random's global state"),
    (dict(draw="fixed seed"), "fixed seed"),
])
def test_drop_captions_mistakes(kwargs, hint, rejects):
    rejects(lambda: checks.check_drop_captions(lambda *a: drop_ok(*a, **kwargs)), hint)


def test_drop_captions_rate_one_replaces_every_row(rejects):
    def most(token_ids, null_ids, rate, rng):
        out = drop_ok(token_ids, null_ids, rate, rng)
        if rate == 1:
            out[0] = token_ids[0]
        return out
    rejects(lambda: checks.check_drop_captions(most), "At rate 1 every caption")


def test_drop_captions_share_margin_is_binomial():
    """A right answer stays well inside 0.2 +- 0.03 over many seeds (4000 rows)."""
    ids, null = checks._captions(4000, seed=0)
    shares = [(drop_ok(ids, null, 0.2, np.random.default_rng(s)) == null).all(1).mean()
              for s in range(200)]
    assert max(abs(np.array(shares) - 0.2)) < 0.025


def guided_ok(c, u, w, form="ok", refuse="value"):
    """Exercise 3; the keywords make its classic mistakes."""
    if refuse == "value" and w < 0:
        raise ValueError(f"the guidance weight w must be >= 0, got {w}")
    if refuse == "value, w = 0 too" and w <= 0:
        raise ValueError(f"the guidance weight w must be > 0, got {w}")
    if refuse == "unnamed" and w < 0:
        raise ValueError("negative guidance")
    if refuse == "assert":
        assert w >= 0
    c, u = np.asarray(c), np.asarray(u)
    return {"ok": (1 + w) * c - w * u,
            "uncond + (1+w)(c-u)": u + (1 + w) * (c - u),
            "reversed": (1 + w) * u - w * c,
            "reversed difference": c - w * (c - u),
            "other convention": w * c + (1 - w) * u,
            "c + w u": c + w * u,
            "c - w u": c - w * u,
            "w (c - u)": w * (c - u),
            "fixed": 2 * c - u,
            "mean": np.mean((1 + w) * c - w * u, axis=0)}[form]


@pytest.mark.parametrize("kwargs, hint", [
    (dict(form="reversed"), "points the wrong way"),
    (dict(form="reversed difference"), "points the wrong way"),
    (dict(form="other convention"), "other common convention"),
    (dict(form="c + w u"), "without the (1 + w)"),
    (dict(form="c - w u"), "without the (1 + w)"),
    (dict(form="w (c - u)"), "without the (1 + w)"),
    (dict(form="fixed"), "does not match"),
    (dict(form="mean"), "returned shape"),
    (dict(refuse="none"), "accepted w = -1"),
    (dict(refuse="assert"), "raised AssertionError"),
    (dict(refuse="unnamed"), "should name the weight w"),
    (dict(refuse="value, w = 0 too"), "Refuse only a weight below 0"),
])
def test_guided_noise_mistakes(kwargs, hint, rejects):
    rejects(lambda: checks.check_guided_noise(lambda *a: guided_ok(*a, **kwargs)), hint)


def test_texture_prompts_pass_when_half_ask_plain_and_half_patterned(capsys):
    checks.check_texture_prompts(["a plain bag", "a patterned bag", "dress, patterned",
                                  "a small plain dress"])
    assert "half plain, half patterned" in capsys.readouterr().out


@pytest.mark.parametrize("prompts, hint", [
    (None, "still a TODO"),
    ("a plain bag", "list of strings"),
    (["a plain bag", "a bag"], "does not ask for a texture"),
    (["a plain bag", "a plain coat", "a patterned coat"], "2 prompts ask for 'plain' and 1"),
    (["a plain hat", "a patterned bag"], "never saw: hat"),
    (["plain", "patterned"], "names no class"),
])
def test_texture_prompts_reject_what_cannot_measure_texture(prompts, hint):
    with pytest.raises(LabCheckError, match=hint):
        checks.check_texture_prompts(prompts)
