"""radial_torch: a PyTorch reference of radiald's routed forward pass.

A second, independent implementation of the semantics of the design note
(section 2): `full`, `forward` (threshold, pins, `propagate` and `sparse` KV)
and `radial` (argmax with exit, no immediate repeat, reuse, `max_steps`)
routing, reading radiald's model directories (config.json + safetensors) and
router files (radial.json + router.safetensors). It runs one pass at a time
with a K/V cache per layer, in float64 by default, and is written for torch
1.13 (Debian 12's python3-torch) as well as torch 2.x: no torch-2-only APIs.

Modules:
  safetensors  read and write the safetensors format (F32, F16, BF16)
  config       config.json and radial.json, parsed strictly
  weights      model and router tensors from a directory
  ops          RMSNorm, RoPE, activations, attention over one layer's cache
  kv           one layer's K/V entries of one sequence
  routing      the router MLP and the routing decisions, with their margins
  forward      a sequence: passes, the K/V rules of each mode, greedy generation
  random_model random models and routers written in radiald's formats
  cli          `python3 -m radial_torch generate ...`
"""

__all__ = ["safetensors", "config", "weights", "ops", "kv", "routing", "forward",
           "random_model", "cli"]
