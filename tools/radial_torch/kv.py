"""The K/V entries of one sequence at one layer.

Entries are kept in position order. Under `full` and `propagate` every
position has an entry; under `sparse` only the passes that ran the layer
fully have one, each still rotated at its original position. A pass is always
the newest of its sequence, so a write either appends an entry for a new
position or (radial mode, a layer visited twice by one pass) overwrites the
pass's own entry, which is then the last one.
"""

import torch


class LayerKv:
    """Growable [n, kv_dim] K and V tables plus each entry's position."""

    def __init__(self, kv_dim, dtype, capacity=16):
        self.kv_dim = kv_dim
        self.keys = torch.zeros(capacity, kv_dim, dtype=dtype)
        self.values = torch.zeros(capacity, kv_dim, dtype=dtype)
        self.positions = []

    def __len__(self):
        return len(self.positions)

    def write(self, position, k, v):
        """Stores k, v [kv_dim] for `position`; returns the entry's index.

        `position` must be the last entry's (an overwrite) or above it."""
        n = len(self.positions)
        if n and self.positions[-1] == position:
            e = n - 1
        else:
            if n and self.positions[-1] > position:
                raise ValueError("K/V write at position %d after position %d"
                                 % (position, self.positions[-1]))
            if n == self.keys.shape[0]:
                self.keys = torch.cat([self.keys, torch.zeros_like(self.keys)])
                self.values = torch.cat([self.values, torch.zeros_like(self.values)])
            self.positions.append(position)
            e = n
        self.keys[e] = k
        self.values[e] = v
        return e

    def visible(self, entry):
        """Entries [0, entry]: keys, values [entry + 1, kv_dim]."""
        return self.keys[:entry + 1], self.values[:entry + 1]

    def has(self, position):
        """True when `position` has an entry here."""
        return position in self.positions
