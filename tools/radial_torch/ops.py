"""The numerical pieces of a Llama-family layer, on one token's vectors.

Every function works on 1-D vectors of one token (or a [n, ...] stack of
cached rows for attention) in whatever floating dtype it is given; nothing
here batches tokens, so the arithmetic of one pass never depends on another.
"""

import math

import torch


def rmsnorm(x, weight, eps):
    """x [d], weight [d] -> weight * x / sqrt(mean(x^2) + eps)  [d]."""
    return weight * (x * torch.rsqrt(torch.mean(x * x) + eps))


def head_rmsnorm(x, weight, heads, eps):
    """x [heads * hd], weight [hd] -> each head of x through rmsnorm  [heads * hd]."""
    h = x.view(heads, -1)
    return (weight * (h * torch.rsqrt(torch.mean(h * h, dim=1, keepdim=True) + eps))).reshape(-1)


def linear(w, x, b=None):
    """w [out, in], x [in], b [out] or None -> w x + b  [out]."""
    y = torch.mv(w, x)
    return y if b is None else y + b


def activation(x, name):
    """Elementwise silu, exact (erf) gelu or relu."""
    if name == "silu":
        return x * torch.sigmoid(x)
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "relu":
        return torch.clamp(x, min=0)
    raise ValueError("unknown activation %r" % name)


def rope_inv_freq(config):
    """[head_dim / 2] inverse frequencies (float64), with the config's scaling.

    Pair i rotates by position * inv_freq[i]: theta^(-2i / head_dim), divided
    by the factor for linear scaling, and for llama3 scaling by band as in
    Hugging Face's _compute_llama3_parameters."""
    hd = config.head_dim
    f = [1.0 / (config.rope_theta ** (2.0 * i / hd)) for i in range(hd // 2)]
    s = config.rope_scaling
    if s is not None and s["type"] == "linear":
        f = [x / s["factor"] for x in f]
    elif s is not None and s["type"] == "llama3":
        old = s["original_max_position_embeddings"]
        low_wavelen = old / s["low_freq_factor"]
        high_wavelen = old / s["high_freq_factor"]
        out = []
        for x in f:
            wavelen = 2 * math.pi / x
            if wavelen > low_wavelen:
                x = x / s["factor"]
            elif wavelen >= high_wavelen:
                smooth = (old / wavelen - s["low_freq_factor"]) / (
                    s["high_freq_factor"] - s["low_freq_factor"])
                x = (1 - smooth) * x / s["factor"] + smooth * x
            out.append(x)
        f = out
    return torch.tensor(f, dtype=torch.float64)


def rope(x, heads, inv_freq, position):
    """Rotates x [heads * head_dim] at `position`, half-split pairs (i, i + hd/2).

    The angles are computed in float64, then cos/sin cast to x's dtype."""
    hd = x.numel() // heads
    half = hd // 2
    angle = float(position) * inv_freq
    cos = torch.cos(angle).to(x.dtype)
    sin = torch.sin(angle).to(x.dtype)
    v = x.reshape(heads, hd)
    a, b = v[:, :half], v[:, half:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=1).reshape(-1)


def attend(q, keys, values, heads, kv_heads):
    """Causal attention of one query over cached entries.

    q [heads * hd]; keys, values [n, kv_heads * hd] (the entries the row may
    see, its own included; n >= 1). Query head h reads K/V head
    h // (heads / kv_heads). Scores scaled by 1 / sqrt(hd), softmax over the
    n entries. Returns [heads * hd]."""
    n = keys.shape[0]
    hd = q.numel() // heads
    group = heads // kv_heads
    qh = q.reshape(heads, hd)
    k = keys.reshape(n, kv_heads, hd).repeat_interleave(group, dim=1)    # [n, heads, hd]
    v = values.reshape(n, kv_heads, hd).repeat_interleave(group, dim=1)
    scores = torch.einsum("hd,nhd->hn", qh, k) / math.sqrt(hd)           # [heads, n]
    weights = torch.softmax(scores, dim=1)
    return torch.einsum("hn,nhd->hd", weights, v).reshape(-1)
