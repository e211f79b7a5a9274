"""The router and the routing decisions of design note section 2.

    g = W2 act(W1 rmsnorm(h) + b1) + b2,   g [L + 1]: L gates, then the exit

Each decision also returns its *margin*: how far the deciding quantity was
from going the other way, so that a comparison with another implementation
(which rounds differently) can tell a real disagreement from a near-tie.

- forward: the next layer is the smallest j > last that is pinned or has
  sigmoid(g_j) >= threshold; none: exit (L). The margin is the smallest
  |g_j - logit(threshold)| over the unpinned gates examined (logit space, so
  it compares directly with rounding errors of g); infinite when no gate
  was examined or when threshold is 0 or 1 (every gate passes; none does).
- radial: argmax over g_0..g_L excluding `last` (no immediate repeat), ties
  to the lowest index; L means exit. The margin is the best candidate's
  lead over the second best.
"""

import math

from radial_torch import ops

INF = float("inf")


def router_gates(router, h):
    """h [d] -> the L + 1 router logits [L + 1] in h's dtype."""
    c = router.config
    x = ops.rmsnorm(h, router.norm, c.norm_eps)
    hidden = ops.activation(ops.linear(router.fc1_w, x, router.fc1_b), c.activation)
    return ops.linear(router.fc2_w, hidden, router.fc2_b)


def threshold_logit(threshold):
    """logit(threshold), or None for 0 and 1 (no gate is then a decision)."""
    if threshold <= 0.0 or threshold >= 1.0:
        return None
    return math.log(threshold / (1.0 - threshold))


def next_forward(gates, last, threshold, pinned):
    """Forward mode: (next layer or L for exit, margin). gates [L + 1]."""
    L = gates.numel() - 1
    g = gates.tolist()
    cut = threshold_logit(threshold)
    margin = INF
    for j in range(last + 1, L):
        if j in pinned:
            return j, margin
        if cut is None:
            if threshold <= 0.0:
                return j, margin
            continue  # threshold 1: sigmoid(g) < 1 for every finite g
        margin = min(margin, abs(g[j] - cut))
        if g[j] >= cut:  # sigmoid(g_j) >= threshold, exactly
            return j, margin
    return L, margin


def next_radial(gates, last):
    """Radial mode: (argmax over gates and exit excluding `last`, margin)."""
    g = gates.tolist()
    best, second = -1, -INF
    for j in range(len(g)):
        if j == last:
            continue
        if best < 0 or g[j] > g[best]:
            if best >= 0:
                second = max(second, g[best])
            best = j
        else:
            second = max(second, g[j])
    return best, g[best] - second

