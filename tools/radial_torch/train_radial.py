"""Radial mode for training: tokens choose their next layer, layers may be revisited.

The served semantics (design note section 2, forward.py): a pass evaluates
the router g = router(h) on the embedding and after every layer it runs;
its next step is argmax over the L gates and the exit logit g_L, excluding
an immediate repeat of `last`; at max_steps it must exit. K/V are `sparse`:
attention at layer j sees only the passes that ran j (their entry at j, the
later visit overwriting the earlier one), original positions kept for RoPE.

Training runs all positions of a batch [B, T] together, step-synchronously:
at step t every active token takes its decision, and the tokens that chose
layer j run it (gathered: a step costs what the chosen layers cost, not L
layers). Layer j's K/V cache holds, per position, the entry of its latest
visit so far; attention sees the positions <= its own that have an entry.

This equals the served semantics for a single position (T = 1: a pass sees
only itself; test_train.py checks it against forward.py). For T > 1 it is an
approximation: when served, passes run one after another, so pass p sees
the *final* entries of the earlier passes at j, including visits those
passes made at steps later than p's step t, which the synchronous schedule
has not run yet. Mixture-of-Recursions trains its recursion-wise KV caching
with the same step-synchronous view. The evaluation (radiald's `radial
eval`) measures the served semantics, so what the approximation costs is
seen there.

Decisions during training, as Gumbel-softmax (Jang et al.) with the
straight-through estimator over the L + 1 choices:
  - soft: choice = argmax(g + Gumbel noise), the executed layer's update is
    scaled by y_c / stop_grad(y_c), y = softmax((g + noise) / tau): forward
    value 1, gradient of the sampled choice's relaxed probability;
  - hard / eval: choice = argmax(g) (the served decision), scaled by
    p_c / stop_grad(p_c), p = softmax(g) ("eval": no gradient wanted).
The compute penalty is the expected number of layers executed: the sum
over steps of P(not exit) of the tokens still active.
"""

import math

import torch
import torch.nn.functional as F

from radial_torch.train_model import apply_rope


def layer_rows(layer, h, pos, bidx, cache, cos, sin):
    """Layer `layer` on the gathered rows h [n, d] at positions pos [n] of
    batch rows bidx [n]. cache = (K, V, seen): K, V [B, T, kv_heads, hd]
    (K after RoPE), seen [B, T] bool. Writes the rows' entries, attends over
    the entries of positions <= each row's own, and returns (delta [n, d],
    the new cache); nothing is modified in place (autograd)."""
    s = layer.s
    n, hd = h.shape[0], s.head_dim
    K, V, seen = cache
    x = layer.input_layernorm(h)
    c, si = cos[pos][:, None, :], sin[pos][:, None, :]
    q = apply_rope(layer.q_proj(x).view(n, s.heads, hd), c, si)
    k = apply_rope(layer.k_proj(x).view(n, s.kv_heads, hd), c, si)
    v = layer.v_proj(x).view(n, s.kv_heads, hd)
    K = K.index_put((bidx, pos), k.to(K.dtype))  # (under autocast k may be bf16)
    V = V.index_put((bidx, pos), v.to(V.dtype))
    seen = seen.index_put((bidx, pos), torch.ones(n, dtype=torch.bool, device=h.device))
    group = s.heads // s.kv_heads
    T = K.shape[1]
    # Per batch row b: its rows' queries against row b's T entries (no copy
    # of the keys per query).
    out = []
    order = []
    for b in torch.unique(bidx).tolist():
        rows = torch.nonzero(bidx == b).squeeze(1)
        keys = K[b].repeat_interleave(group, dim=1).transpose(0, 1)  # [H, T, hd]
        vals = V[b].repeat_interleave(group, dim=1).transpose(0, 1)
        qb = q[rows].transpose(0, 1)  # [H, m, hd]
        allowed = seen[b][None, :] & \
            (torch.arange(T, device=h.device)[None, :] <= pos[rows][:, None])  # [m, T]
        scores = (qb @ keys.transpose(1, 2)) * (1.0 / math.sqrt(hd))  # [H, m, T]
        scores = scores.masked_fill(~allowed[None], float("-inf"))
        out.append((torch.softmax(scores, dim=-1) @ vals).transpose(0, 1))  # [m, H, hd]
        order.append(rows)
    out = torch.cat(out)
    a = out.new_zeros(n, s.heads, hd).index_copy(0, torch.cat(order), out)
    h1 = h + layer.o_proj(a.reshape(n, s.heads * hd))
    x = layer.post_attention_layernorm(h1)
    delta = h1 + layer.down_proj(F.silu(layer.gate_proj(x)) * layer.up_proj(x)) - h
    return delta, (K, V, seen)


def forward_radial(model, ids, gate_mode, tau=1.0, max_steps=None, stats=None):
    """ids [B, T] -> (logits [B, T, V], expected layers per token (a scalar
    with gradient: the penalty), steps [B, T] executed, revisits [B, T]).

    gate_mode "soft" (Gumbel-softmax at temperature tau), "hard" (argmax,
    straight-through) or "eval" (argmax). max_steps defaults to L.

    stats, a dict when given, receives "balance": the Switch Transformer
    load-balancing loss over the L layers (exit left out), L * sum_j f_j P_j
    with f_j the fraction of the tokens that go on choosing layer j and P_j
    their mean probability of j renormalised over the layers (so that the
    term cannot be lowered by exiting), averaged over the steps: about 1
    when the load is even, L when every token takes one layer with
    certainty; with gradient."""
    s = model.s
    L = s.layers
    max_steps = L if max_steps is None else max_steps
    B, T = ids.shape
    N = B * T
    h = model.embed(ids).reshape(N, s.hidden)
    dev = ids.device
    pos = torch.arange(T, device=dev).repeat(B)
    bidx = torch.arange(B, device=dev).repeat_interleave(T)
    hd = s.head_dim
    caches = [(h.new_zeros(B, T, s.kv_heads, hd), h.new_zeros(B, T, s.kv_heads, hd),
               torch.zeros(B, T, dtype=torch.bool, device=dev)) for _ in range(L)]
    active = torch.ones(N, dtype=torch.bool, device=dev)
    last = torch.full((N,), -1, dtype=torch.long, device=dev)
    steps = torch.zeros(N, dtype=torch.long, device=dev)
    visited = torch.zeros(N, L, dtype=torch.bool, device=dev)
    revisits = torch.zeros(N, dtype=torch.long, device=dev)
    expected = h.new_zeros(())
    balance, balance_steps = h.new_zeros(()), 0
    for _ in range(max_steps):
        if not bool(active.any()):
            break
        g = model.router(h)  # [N, L + 1]
        repeat = F.one_hot(last.clamp(min=0), L + 1).bool() & (last >= 0)[:, None]
        g = g.masked_fill(repeat, float("-inf"))
        p = torch.softmax(g, dim=-1)
        if gate_mode == "soft":
            u = torch.rand_like(g).clamp(1e-9, 1 - 1e-9)
            y = torch.softmax((g - torch.log(-torch.log(u))) / tau, dim=-1)
            choice = y.argmax(-1)
        elif gate_mode in ("hard", "eval"):
            y = p
            choice = g.argmax(-1)  # ties: the lowest index, as the server
        else:
            raise ValueError("gate_mode %r" % gate_mode)
        picked = y.gather(1, choice[:, None]).squeeze(1)
        scale = picked / picked.detach()
        expected = expected + (active.float() * (1 - p[:, L])).sum() / N
        active = active & (choice != L)
        if stats is not None and bool(active.any()):
            on = torch.nonzero(active).squeeze(1)
            f = torch.bincount(choice[on], minlength=L + 1)[:L].float() / on.numel()
            q = p[on, :L] / p[on, :L].sum(-1, keepdim=True)  # among the layers
            balance = balance + L * (f * q.mean(0)).sum()
            balance_steps += 1
        for j in range(L):
            idx = torch.nonzero(active & (choice == j)).squeeze(1)
            if idx.numel() == 0:
                continue
            delta, caches[j] = layer_rows(model.layers[j], h[idx], pos[idx], bidx[idx],
                                          caches[j], model.cos, model.sin)
            h = h.index_add(0, idx, (scale[idx, None] * delta).to(h.dtype))
        rows = torch.nonzero(active).squeeze(1)
        revisits[rows] += visited[rows, choice[rows]].long()
        visited[rows, choice[rows]] = True
        last = torch.where(active, choice, last)
        steps = steps + active.long()
    if stats is not None:
        stats["balance"] = balance / max(1, balance_steps)
    logits = model.logits(h).view(B, T, -1)
    return logits, expected, steps.view(B, T), revisits.view(B, T)
