"""Passes of one sequence, with the K/V rules of each routing mode.

A *pass* carries one input token from the embedding through the layers it
is routed to, to the head (design note, section 2). Passes run one after
another, each completing before the next starts; that is the semantics
radiald's batched schedule must reproduce (its ordering rule makes a pass see
exactly the entries of the earlier passes of its sequence).

    embed:   h = E[token]
    full:    every layer in order
    forward: target = next_forward(router(h), last = -1); for j in 0..L-1:
               j == target: full layer j, path += j, target = next_forward(router(h), j)
                            (nothing lies above layer L-1: no router there)
               otherwise:   `propagate`: K/V-only row of h at j; `sparse`: nothing
    radial:  while steps < max_steps: j = next_radial(router(h), last); exit if j == L;
             full layer j (overwriting this pass's entry at j on a revisit), path += j
    head:    logits = lm_head(rmsnorm(h))

A full layer at position p writes its K/V entry first, then attends over the
entries of the layer up to and including its own.
"""

from dataclasses import dataclass, field
from typing import List

import torch

from radial_torch import ops
from radial_torch.kv import LayerKv
from radial_torch.routing import INF, next_forward, next_radial, router_gates


@dataclass
class Routing:
    """How a request is routed: mode full | forward | radial, with the router
    file's settings, a threshold possibly overridden."""
    mode: str = "full"
    threshold: float = 0.5
    kv_policy: str = "propagate"
    max_steps: int = 0
    pinned: frozenset = frozenset()


def resolve_routing(router, mode=None, threshold=None):
    """The router file's settings with per-request overrides, as radiald
    resolves them: no router means full; a routed mode must be the router's;
    full mode writes every layer (propagate)."""
    if router is None:
        r = Routing()
    else:
        c = router.config
        r = Routing(mode=c.mode, threshold=c.threshold, kv_policy=c.kv_policy,
                    max_steps=c.max_steps, pinned=frozenset(c.pinned_layers))
    if mode is not None:
        if mode != "full" and (router is None or mode != router.config.mode):
            raise ValueError("routing mode %r is not available with this router" % mode)
        r.mode = mode
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        r.threshold = threshold
    if r.mode == "full":
        r.kv_policy = "propagate"
    return r


@dataclass
class PassResult:
    """One pass: its position and token, the layers it executed fully (path),
    the layers where it wrote a K/V-only row, its logits [vocab], and the
    smallest routing margin of its decisions (routing.py; inf: none)."""
    position: int
    token: int
    path: List[int]
    kv_only: List[int]
    logits: torch.Tensor
    route_margin: float = INF


class Sequence:
    """One sequence's K/V caches and its passes, in position order."""

    def __init__(self, model, router, routing):
        self.m = model
        self.c = model.config
        self.router = router
        self.routing = routing
        if routing.mode != "full" and router is None:
            raise ValueError("mode %s needs a router" % routing.mode)
        if routing.mode == "radial" and routing.kv_policy != "sparse":
            raise ValueError("radial mode uses the sparse KV policy only")
        dtype = model.embed.dtype
        self.kv = [LayerKv(self.c.kv_dim, dtype) for _ in range(self.c.num_layers)]
        self.inv_freq = ops.rope_inv_freq(self.c)
        self.position = 0

    # -- one layer ---------------------------------------------------------

    def _kv_row(self, j, h):
        """Layer j's K/V of hidden state h [d] at this pass's position:
        input norm, K/V projections, RoPE on K. Writes it; returns the entry."""
        lw = self.m.layers[j]
        x = ops.rmsnorm(h, lw.attn_norm, self.c.rms_norm_eps)
        k = ops.linear(lw.wk, x, lw.bk)
        if self.c.qk_norm:
            k = ops.head_rmsnorm(k, lw.k_norm, self.c.num_kv_heads, self.c.rms_norm_eps)
        k = ops.rope(k, self.c.num_kv_heads, self.inv_freq, self.position)
        v = ops.linear(lw.wv, x, lw.bv)
        return self.kv[j].write(self.position, k, v)

    def _layer(self, j, h):
        """Full layer j on h [d]: writes K/V, attends, MLP. Returns the new h."""
        c, lw = self.c, self.m.layers[j]
        entry = self._kv_row(j, h)
        x = ops.rmsnorm(h, lw.attn_norm, c.rms_norm_eps)
        q = ops.linear(lw.wq, x, lw.bq)
        if c.qk_norm:
            q = ops.head_rmsnorm(q, lw.q_norm, c.num_heads, c.rms_norm_eps)
        q = ops.rope(q, c.num_heads, self.inv_freq, self.position)
        keys, values = self.kv[j].visible(entry)
        h = h + ops.linear(lw.wo, ops.attend(q, keys, values, c.num_heads, c.num_kv_heads))
        x = ops.rmsnorm(h, lw.mlp_norm, c.rms_norm_eps)
        gated = ops.activation(ops.linear(lw.w_gate, x), c.hidden_act) * ops.linear(lw.w_up, x)
        return h + ops.linear(lw.w_down, gated)

    # -- one pass ----------------------------------------------------------

    def run_pass(self, token):
        """Runs the pass of `token` at the next position; returns PassResult."""
        c, r = self.c, self.routing
        L = c.num_layers
        if not 0 <= token < c.vocab_size:
            raise ValueError("token %d outside the vocabulary" % token)
        if self.position >= c.max_position_embeddings:
            raise ValueError("position %d beyond the context" % self.position)
        h = self.m.embed[token].clone()
        path, kv_only, margin = [], [], INF

        def decide(last):
            nonlocal margin
            gates = router_gates(self.router, h)
            if r.mode == "forward":
                nxt, m = next_forward(gates, last, r.threshold, r.pinned)
            else:
                nxt, m = next_radial(gates, last)
            margin = min(margin, m)
            return nxt

        if r.mode == "full":
            for j in range(L):
                h = self._layer(j, h)
                path.append(j)
        elif r.mode == "forward":
            target = decide(-1)
            for j in range(L):
                if j == target:
                    h = self._layer(j, h)
                    path.append(j)
                    target = decide(j) if j + 1 < L else L
                elif r.kv_policy == "propagate":
                    self._kv_row(j, h)
                    kv_only.append(j)
        elif r.mode == "radial":
            last = -1
            while len(path) < r.max_steps:
                j = decide(last)
                if j == L:
                    break
                h = self._layer(j, h)
                path.append(j)
                last = j
        else:
            raise ValueError("unknown mode %r" % r.mode)
        logits = ops.linear(self.m.lm_head, ops.rmsnorm(h, self.m.final_norm, c.rms_norm_eps))
        res = PassResult(self.position, token, path, kv_only, logits, margin)
        self.position += 1
        return res


def token_margin(logits):
    """Lead of the greedy token's logit over the runner-up's."""
    top = torch.topk(logits, 2).values.tolist()
    return top[0] - top[1]


@dataclass
class Generation:
    """Greedy generation: the prompt's passes and, per generated token, the
    pass that produced its distribution (the first: the last prompt pass)."""
    prompt: List[int]
    prompt_passes: List[PassResult]
    tokens: List[int] = field(default_factory=list)
    token_passes: List[PassResult] = field(default_factory=list)
    finish: str = "length"

    def passes(self):
        """Every pass run, in position order."""
        return self.prompt_passes + self.token_passes[1:]

    def min_route_margin(self):
        """Smallest routing margin of any pass (routing.py)."""
        return min([p.route_margin for p in self.passes()] + [INF])

    def min_token_margin(self):
        """Smallest lead of a greedy choice, over every pass that sampled."""
        return min([token_margin(p.logits) for p in self.token_passes] + [INF])


def generate(model, router, routing, prompt, max_tokens, ignore_eos=False):
    """Greedy decoding (argmax, ties to the lowest id) of `prompt` (token
    ids; empty means [BOS]). Stops after `max_tokens` tokens, at an end id of
    the config (unless `ignore_eos`; the end token is not emitted), or when
    the producing pass is the last position of the context."""
    c = model.config
    prompt = list(prompt) or [c.bos_token_id]
    seq = Sequence(model, router, routing)
    g = Generation(prompt=prompt, prompt_passes=[seq.run_pass(t) for t in prompt])
    producer = g.prompt_passes[-1]
    while True:
        tok = int(torch.argmax(producer.logits).item())
        if tok in c.eos_token_ids and not ignore_eos:
            g.finish = "stop"
            break
        g.tokens.append(tok)
        g.token_passes.append(producer)
        if len(g.tokens) >= max_tokens or producer.position + 1 >= c.max_position_embeddings:
            g.finish = "length"
            break
        producer = seq.run_pass(tok)
    return g
