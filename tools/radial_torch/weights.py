"""Model and router tensors from radiald's files.

A model directory holds config.json and model.safetensors (or the shards
listed in model.safetensors.index.json), with Hugging Face tensor names and
layout: projections [out, in] (y = x W^T), Q/K rows in half-split RoPE
order. A router directory holds radial.json and router.safetensors (design
note, section 2). Every tensor is converted to one compute dtype at load.
"""

import json
import os
from dataclasses import dataclass
from typing import List, Optional

import torch

from radial_torch import safetensors
from radial_torch.config import load_model_config, load_router_config


@dataclass
class LayerWeights:
    """One decoder layer. Shapes: d = hidden, q = heads * head_dim,
    kv = kv_heads * head_dim, f = intermediate size."""
    attn_norm: torch.Tensor          # [d]
    wq: torch.Tensor                 # [q, d]
    wk: torch.Tensor                 # [kv, d]
    wv: torch.Tensor                 # [kv, d]
    bq: Optional[torch.Tensor]       # [q] or None
    bk: Optional[torch.Tensor]       # [kv] or None
    bv: Optional[torch.Tensor]       # [kv] or None
    wo: torch.Tensor                 # [d, q]
    mlp_norm: torch.Tensor           # [d]
    w_gate: torch.Tensor             # [f, d]
    w_up: torch.Tensor               # [f, d]
    w_down: torch.Tensor             # [d, f]
    q_norm: Optional[torch.Tensor] = None  # [head_dim] (Qwen3's qk_norm) or None
    k_norm: Optional[torch.Tensor] = None  # [head_dim] or None


@dataclass
class ModelWeights:
    config: object                   # config.ModelConfig
    embed: torch.Tensor              # [vocab, d]
    layers: List[LayerWeights]
    final_norm: torch.Tensor         # [d]
    lm_head: torch.Tensor            # [vocab, d] (the embedding when tied)


@dataclass
class RouterWeights:
    config: object                   # config.RouterConfig
    norm: torch.Tensor               # [d]
    fc1_w: torch.Tensor              # [r, d]
    fc1_b: torch.Tensor              # [r]
    fc2_w: torch.Tensor              # [L + 1, r]
    fc2_b: torch.Tensor              # [L + 1]


def read_model_tensors(directory):
    """{name: tensor} of model.safetensors, or of every shard of the index."""
    single = os.path.join(directory, "model.safetensors")
    if os.path.exists(single):
        return safetensors.load(single)
    index = os.path.join(directory, "model.safetensors.index.json")
    if not os.path.exists(index):
        raise FileNotFoundError("%s: not found (nor model.safetensors.index.json)" % single)
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(weight_map.values())):
        if os.path.basename(shard) != shard or shard in ("", ".", ".."):
            raise ValueError("%s: shard %r is not a plain file name" % (index, shard))
        tensors = safetensors.load(os.path.join(directory, shard))
        for name, where in weight_map.items():
            if where == shard:
                if name not in tensors:
                    raise ValueError("%s: %s is mapped to %s, which lacks it"
                                     % (index, name, shard))
                out[name] = tensors[name]
    return out


def _take(tensors, name, shape, dtype):
    if name not in tensors:
        raise KeyError("missing tensor %s" % name)
    t = tensors[name]
    if list(t.shape) != list(shape):
        raise ValueError("%s: expected shape %s, got %s" % (name, list(shape), list(t.shape)))
    return t.to(dtype)


def load_model(directory, dtype=torch.float64):
    """A Hugging Face model directory -> ModelWeights in `dtype`.

    generation_config.json's eos_token_id, when present, is added to the
    config's end ids (as radiald does)."""
    c = load_model_config(os.path.join(directory, "config.json"))
    gen = os.path.join(directory, "generation_config.json")
    if os.path.exists(gen):
        with open(gen) as f:
            eos = json.load(f).get("eos_token_id")
        for e in (eos if isinstance(eos, list) else [] if eos is None else [eos]):
            if e not in c.eos_token_ids:
                c.eos_token_ids.append(int(e))
    t = read_model_tensors(directory)
    d, f, q, kv = c.hidden_size, c.intermediate_size, c.q_dim, c.kv_dim
    layers = []
    for i in range(c.num_layers):
        p = "model.layers.%d." % i
        bias = (lambda n, s: _take(t, p + n, s, dtype)) if c.attention_bias else (lambda n, s: None)
        norm = (lambda n: _take(t, p + n, [c.head_dim], dtype)) if c.qk_norm else (lambda n: None)
        layers.append(LayerWeights(
            attn_norm=_take(t, p + "input_layernorm.weight", [d], dtype),
            wq=_take(t, p + "self_attn.q_proj.weight", [q, d], dtype),
            wk=_take(t, p + "self_attn.k_proj.weight", [kv, d], dtype),
            wv=_take(t, p + "self_attn.v_proj.weight", [kv, d], dtype),
            bq=bias("self_attn.q_proj.bias", [q]),
            bk=bias("self_attn.k_proj.bias", [kv]),
            bv=bias("self_attn.v_proj.bias", [kv]),
            wo=_take(t, p + "self_attn.o_proj.weight", [d, q], dtype),
            mlp_norm=_take(t, p + "post_attention_layernorm.weight", [d], dtype),
            w_gate=_take(t, p + "mlp.gate_proj.weight", [f, d], dtype),
            w_up=_take(t, p + "mlp.up_proj.weight", [f, d], dtype),
            w_down=_take(t, p + "mlp.down_proj.weight", [d, f], dtype),
            q_norm=norm("self_attn.q_norm.weight"),
            k_norm=norm("self_attn.k_norm.weight")))
    embed = _take(t, "model.embed_tokens.weight", [c.vocab_size, d], dtype)
    head = embed if c.tie_word_embeddings else _take(t, "lm_head.weight", [c.vocab_size, d], dtype)
    return ModelWeights(config=c, embed=embed, layers=layers,
                        final_norm=_take(t, "model.norm.weight", [d], dtype), lm_head=head)


def has_router(directory):
    """True when `directory` holds a radial.json."""
    return os.path.exists(os.path.join(directory, "radial.json"))


def load_router(directory, model_config, dtype=torch.float64):
    """radial.json + router.safetensors in `directory` -> RouterWeights."""
    rc = load_router_config(os.path.join(directory, "radial.json"), model_config)
    t = safetensors.load(os.path.join(directory, "router.safetensors"))
    d, r, g = rc.hidden_size, rc.router_hidden, rc.num_layers + 1
    return RouterWeights(config=rc, norm=_take(t, "router.norm.weight", [d], dtype),
                         fc1_w=_take(t, "router.fc1.weight", [r, d], dtype),
                         fc1_b=_take(t, "router.fc1.bias", [r], dtype),
                         fc2_w=_take(t, "router.fc2.weight", [g, r], dtype),
                         fc2_b=_take(t, "router.fc2.bias", [g], dtype))


def save_router(router_config, tensors, directory, dtype="F32"):
    """Writes radial.json (from `router_config`) and router.safetensors.

    `tensors`: {"norm", "fc1_w", "fc1_b", "fc2_w", "fc2_b"} -> tensor."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "radial.json"), "w") as f:
        json.dump(router_config.to_json(), f, indent=2)
        f.write("\n")
    names = {"norm": "router.norm.weight", "fc1_w": "router.fc1.weight",
             "fc1_b": "router.fc1.bias", "fc2_w": "router.fc2.weight",
             "fc2_b": "router.fc2.bias"}
    safetensors.save(os.path.join(directory, "router.safetensors"),
                     {names[k]: v for k, v in tensors.items()}, dtype=dtype)
