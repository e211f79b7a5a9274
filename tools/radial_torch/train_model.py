"""A batched Llama-style decoder with a co-trained router, for training.

This is the training-side model of `radial_torch train` (train.py). It runs
whole sequences at once ([B, T] token ids) and is differentiable; the
per-token reference of forward.py stays the definition of the semantics, and
the exported files are checked with it and with radiald.

Layer j of the pool (RMSNorm, RoPE half-split, grouped-query attention,
SwiGLU MLP, as Hugging Face's Llama) maps h to h + delta_j(h). A routed
pass in forward mode (design note section 2) runs layer j iff j is pinned or
sigmoid(g_j) >= threshold, where g = router(h) is evaluated on the hidden
state the token has when it reaches j (skipping a layer leaves h unchanged,
so this is the same as evaluating the router after the last executed layer).
Training relaxes that decision into a gate s_j in [0, 1]:

    h <- h + s_j * delta_j(h)

- soft phase: s_j = sigmoid((g_j + logistic noise) / tau), the binary
  concrete (Gumbel-sigmoid) relaxation of Maddison et al. / Louizos et al.,
  as D-LLM relaxes its skip decisions with Gumbel-softmax; tau is annealed
  towards hard decisions;
- hard phase: s_j = 1[g_j >= 0] in the forward pass with sigmoid's gradient
  (straight-through), so the layers adapt to the skips they will see.

Every layer's attention computes K/V for every position from the hidden state
that position has at that layer, whether or not its gate runs the layer:
exactly the `propagate` KV policy (K/V-only rows), so a model trained here is
served with kv_policy "propagate".
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Shape:
    vocab: int
    layers: int = 12
    hidden: int = 192
    heads: int = 6
    kv_heads: int = 2
    intermediate: int = 512
    context: int = 256
    router_hidden: int = 64
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.hidden // self.heads


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_tables(shape, T):
    """cos, sin [T, head_dim / 2] for half-split RoPE."""
    hd = shape.head_dim
    inv = 1.0 / (shape.rope_theta ** (torch.arange(0, hd // 2, dtype=torch.float64) * 2.0 / hd))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """x [B, H, T, hd] rotated in half-split pairs (i, i + hd/2)."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class Layer(nn.Module):
    """One decoder layer; forward returns delta = layer(h) - h."""

    def __init__(self, s):
        super().__init__()
        self.s = s
        hd = s.head_dim
        self.input_layernorm = RMSNorm(s.hidden, s.norm_eps)
        self.q_proj = nn.Linear(s.hidden, s.heads * hd, bias=False)
        self.k_proj = nn.Linear(s.hidden, s.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(s.hidden, s.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(s.heads * hd, s.hidden, bias=False)
        self.post_attention_layernorm = RMSNorm(s.hidden, s.norm_eps)
        self.gate_proj = nn.Linear(s.hidden, s.intermediate, bias=False)
        self.up_proj = nn.Linear(s.hidden, s.intermediate, bias=False)
        self.down_proj = nn.Linear(s.intermediate, s.hidden, bias=False)

    def forward(self, h, cos, sin, mask):
        s = self.s
        B, T, _ = h.shape
        hd = s.head_dim
        x = self.input_layernorm(h)
        q = self.q_proj(x).view(B, T, s.heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, s.kv_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, s.kv_heads, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = s.heads // s.kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)) + mask
        a = (torch.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B, T, s.heads * hd)
        h1 = h + self.o_proj(a)
        x = self.post_attention_layernorm(h1)
        return h1 + self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x)) - h


class Router(nn.Module):
    """g = fc2(silu(fc1(rmsnorm(h)))): L gates and the exit logit."""

    def __init__(self, s):
        super().__init__()
        self.norm = RMSNorm(s.hidden, s.norm_eps)
        self.fc1 = nn.Linear(s.hidden, s.router_hidden)
        self.fc2 = nn.Linear(s.router_hidden, s.layers + 1)

    def forward(self, h):
        return self.fc2(F.silu(self.fc1(self.norm(h))))


class RoutedDecoder(nn.Module):
    """Embedding (tied to the LM head), a pool of layers, a router."""

    def __init__(self, s, pinned=(0,), routed=True):
        super().__init__()
        self.s = s
        self.pinned = set(pinned)
        self.embed = nn.Embedding(s.vocab, s.hidden)
        self.layers = nn.ModuleList(Layer(s) for _ in range(s.layers))
        self.norm = RMSNorm(s.hidden, s.norm_eps)
        self.router = Router(s) if routed else None
        cos, sin = rope_tables(s, s.context)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((s.context, s.context), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        std = 0.02
        nn.init.normal_(self.embed.weight, std=std)
        for layer in self.layers:
            for lin in (layer.q_proj, layer.k_proj, layer.v_proj, layer.gate_proj, layer.up_proj):
                nn.init.normal_(lin.weight, std=std)
            # GPT-2's scaling of the projections into the residual stream.
            for lin in (layer.o_proj, layer.down_proj):
                nn.init.normal_(lin.weight, std=std / math.sqrt(2 * self.s.layers))
        if self.router is not None:
            nn.init.normal_(self.router.fc1.weight, std=std)
            nn.init.zeros_(self.router.fc1.bias)
            nn.init.normal_(self.router.fc2.weight, std=std)
            # Start every gate open (sigmoid(2) = 0.88); the exit logit is unused
            # in forward mode.
            nn.init.constant_(self.router.fc2.bias, 2.0)

    def logits(self, h):
        return F.linear(self.norm(h), self.embed.weight)

    def forward(self, ids, gate_mode="full", tau=1.0, layer_dropout=0.0):
        """ids [B, T] -> (logits [B, T, V], gate probabilities [B, T, L] or None).

        gate_mode: "full" runs every layer (with layer_dropout > 0, each token
        skips unpinned layer j with probability layer_dropout * j / (L - 1),
        LayerSkip's depth-scaled layer dropout, without rescaling, so that the
        layers learn to work when others are skipped); "soft" uses
        binary-concrete gates at temperature tau; "hard" straight-through
        gates (threshold 0.5); "eval" hard gates without gradients' estimator
        (for measurement).
        The gate probabilities are sigmoid(g_j) of the unpinned layers (1 for
        pinned), the expected compute the penalty acts on."""
        B, T = ids.shape
        cos, sin = self.cos[:T], self.sin[:T]
        mask = self.mask[:T, :T]
        h = self.embed(ids)
        probs = []
        for j, layer in enumerate(self.layers):
            delta = layer(h, cos, sin, mask)
            if gate_mode == "full" or j in self.pinned or self.router is None:
                if gate_mode == "full" and layer_dropout > 0 and j not in self.pinned:
                    rate = layer_dropout * j / max(1, self.s.layers - 1)
                    delta = delta * (torch.rand(B, T, 1, device=ids.device) >= rate).to(h.dtype)
                h = h + delta
                probs.append(torch.ones(B, T, device=ids.device))
                continue
            g = self.router(h)[..., j]
            p = torch.sigmoid(g)
            probs.append(p)
            if gate_mode == "soft":
                u = torch.rand_like(g).clamp(1e-6, 1 - 1e-6)
                s = torch.sigmoid((g + torch.log(u) - torch.log1p(-u)) / tau)
            elif gate_mode == "hard":
                s = (g >= 0).to(h.dtype) + p - p.detach()
            elif gate_mode == "eval":
                s = (g >= 0).to(h.dtype)
            else:
                raise ValueError("gate_mode %r" % gate_mode)
            h = h + s.unsqueeze(-1) * delta
        return self.logits(h), torch.stack(probs, dim=-1)
