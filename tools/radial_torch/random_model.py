"""Random models and routers, written in radiald's formats.

The weights come from numpy's legacy RandomState, whose streams are fixed
across numpy versions, so a seed gives the same files everywhere (torch's
own generators make no such promise across 1.13 and 2.x). Scales keep the
activations of a few layers in a sane range: projections N(0, 1/in), norm
weights 1 + N(0, 0.1^2).
"""

import json
import os

import numpy as np

from radial_torch import safetensors
from radial_torch.config import RouterConfig
from radial_torch.weights import save_router


def model_config_json(model_type="qwen2", hidden=48, layers=4, heads=4, kv_heads=2, vocab=96,
                      intermediate=80, context=128, tie=False, act="silu"):
    """A config.json object for a small random model (Qwen2: Q/K/V biases;
    Qwen3: per-head q/k norms)."""
    return {"architectures": [{"qwen2": "Qwen2ForCausalLM",
                               "qwen3": "Qwen3ForCausalLM"}.get(model_type, "LlamaForCausalLM")],
            "model_type": model_type, "hidden_size": hidden, "intermediate_size": intermediate,
            "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": kv_heads, "vocab_size": vocab,
            "max_position_embeddings": context, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
            "tie_word_embeddings": tie, "hidden_act": act, "bos_token_id": 1,
            "eos_token_id": 2, "use_sliding_window": False, "torch_dtype": "float32"}


def write_random_model(directory, seed, **shape):
    """Writes config.json + model.safetensors (F32) of a random model;
    `shape` goes to model_config_json. Returns the config object."""
    cfg = model_config_json(**shape)
    rs = np.random.RandomState(seed)
    d, f, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    hd = d // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    vocab = cfg["vocab_size"]

    def mat(out, inp):
        return (rs.standard_normal((out, inp)) / np.sqrt(inp)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rs.standard_normal(n)).astype(np.float32)

    t = {"model.embed_tokens.weight": rs.standard_normal((vocab, d)).astype(np.float32)}
    for i in range(L):
        p = "model.layers.%d." % i
        t[p + "input_layernorm.weight"] = norm(d)
        t[p + "self_attn.q_proj.weight"] = mat(q, d)
        t[p + "self_attn.k_proj.weight"] = mat(kv, d)
        t[p + "self_attn.v_proj.weight"] = mat(kv, d)
        if cfg["model_type"] == "qwen2":
            for name, n in (("q", q), ("k", kv), ("v", kv)):
                t[p + "self_attn.%s_proj.bias" % name] = (0.1 * rs.standard_normal(n)).astype(
                    np.float32)
        if cfg["model_type"] == "qwen3":
            t[p + "self_attn.q_norm.weight"] = norm(hd)
            t[p + "self_attn.k_norm.weight"] = norm(hd)
        t[p + "self_attn.o_proj.weight"] = mat(d, q)
        t[p + "post_attention_layernorm.weight"] = norm(d)
        t[p + "mlp.gate_proj.weight"] = mat(f, d)
        t[p + "mlp.up_proj.weight"] = mat(f, d)
        t[p + "mlp.down_proj.weight"] = mat(d, f)
    t["model.norm.weight"] = norm(d)
    if not cfg["tie_word_embeddings"]:
        t["lm_head.weight"] = mat(vocab, d)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    safetensors.save(os.path.join(directory, "model.safetensors"), t, metadata={"format": "pt"})
    return cfg


def write_random_router(directory, num_layers, hidden_size, seed, mode="forward",
                        threshold=0.5, pinned=(0,), kv_policy="propagate", max_steps=None,
                        router_hidden=16, gate_scale=2.0, gate_bias=None, activation="silu",
                        dtype="F32"):
    """Writes radial.json + router.safetensors of a random router.

    The gates depend on h: fc1 N(0, 1/d), fc2 scaled so that the logits
    spread by about `gate_scale`; `gate_bias` [L + 1] (default zeros) shifts
    them, e.g. a negative exit bias makes radial passes longer. Returns the
    RouterConfig."""
    rs = np.random.RandomState(seed)
    L, d, r = num_layers, hidden_size, router_hidden
    rc = RouterConfig(num_layers=L, hidden_size=d, router_hidden=r, activation=activation,
                      norm_eps=1e-5, mode=mode, threshold=threshold,
                      max_steps=max_steps if max_steps is not None else L,
                      pinned_layers=list(pinned), kv_policy=kv_policy)
    bias = np.zeros(L + 1) if gate_bias is None else np.asarray(gate_bias, dtype=np.float64)
    tensors = {
        "norm": (1.0 + 0.1 * rs.standard_normal(d)).astype(np.float32),
        "fc1_w": (rs.standard_normal((r, d)) / np.sqrt(d)).astype(np.float32),
        "fc1_b": (0.1 * rs.standard_normal(r)).astype(np.float32),
        "fc2_w": (gate_scale * rs.standard_normal((L + 1, r)) / np.sqrt(r)).astype(np.float32),
        "fc2_b": (bias + 0.1 * rs.standard_normal(L + 1)).astype(np.float32),
    }
    save_router(rc, tensors, directory, dtype=dtype)
    return rc
