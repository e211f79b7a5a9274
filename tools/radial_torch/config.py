"""config.json (the model) and radial.json (the router), parsed strictly.

ModelConfig covers the Llama family radiald serves: model_type llama,
mistral, qwen2 (Qwen2 always has Q/K/V biases) or qwen3 (an RMSNorm over
each head of q and k before RoPE), RMSNorm, RoPE with
half-split pairs (Hugging Face layout) and optional linear or llama3
scaling, SwiGLU (or GeLU/ReLU-gated) MLP, grouped-query attention, tied or
untied embeddings. Fields that would change the math and are not modelled
here (sliding windows, soft-capping, ...) raise ConfigError
rather than being ignored.

RouterConfig is radial.json, schema "radial-router/1" (design note,
section 2): unknown keys, missing keys, wrong types, out-of-range values and
sizes that do not match the model are errors naming the key.
"""

import json
import math
from dataclasses import dataclass, field
from typing import List, Optional


class ConfigError(ValueError):
    """A config.json or radial.json that cannot be used as it is."""


def _int(j, key, default=None, where="config"):
    v = j.get(key)
    if v is None:
        if default is None:
            raise ConfigError("%s: missing %s" % (where, key))
        return default
    if isinstance(v, bool) or not isinstance(v, int) or not -2**31 <= v < 2**31:
        raise ConfigError("%s: %s must be a 32-bit integer, got %r" % (where, key, v))
    return v


def _num(j, key, default=None, where="config"):
    v = j.get(key)
    if v is None:
        if default is None:
            raise ConfigError("%s: missing %s" % (where, key))
        return float(default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError("%s: %s must be a finite number, got %r" % (where, key, v))
    return float(v)


@dataclass
class ModelConfig:
    """The architecture of a Llama-family decoder (what changes the math)."""
    model_type: str
    hidden_size: int            # d
    intermediate_size: int      # MLP width
    num_layers: int             # L
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: Optional[dict]  # None, {"type": "linear", factor} or llama3's fields
    tie_word_embeddings: bool
    attention_bias: bool        # Q/K/V biases
    hidden_act: str             # silu | gelu | relu
    bos_token_id: int
    eos_token_ids: List[int] = field(default_factory=list)
    qk_norm: bool = False       # Qwen3: RMSNorm of each head of q and k before RoPE

    @property
    def q_dim(self):
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self):
        return self.num_kv_heads * self.head_dim


def _parse_rope_scaling(v, key):
    if not isinstance(v, dict):
        raise ConfigError("config: %s must be an object or null" % key)
    kind = v.get("rope_type", v.get("type"))
    if kind in (None, "default"):
        return None
    if kind == "linear":
        return {"type": "linear", "factor": _num(v, "factor", where=key)}
    if kind == "llama3":
        return {"type": "llama3", "factor": _num(v, "factor", where=key),
                "low_freq_factor": _num(v, "low_freq_factor", where=key),
                "high_freq_factor": _num(v, "high_freq_factor", where=key),
                "original_max_position_embeddings":
                    _int(v, "original_max_position_embeddings", where=key)}
    raise ConfigError("config: %s type %r is not supported" % (key, kind))


def parse_model_config(j):
    """A Hugging Face config.json object -> ModelConfig (transformers' defaults)."""
    if not isinstance(j, dict):
        raise ConfigError("config: not a JSON object")
    mt = j.get("model_type")
    if mt not in ("llama", "mistral", "qwen2", "qwen3"):
        raise ConfigError("config: model_type %r is not supported (llama, mistral, qwen2, qwen3)"
                          % mt)
    qwen3 = mt == "qwen3"
    # qwen2: below, the defaults and sliding-window fields Qwen2 and Qwen3 share.
    qwen2, mistral = mt in ("qwen2", "qwen3"), mt == "mistral"
    d = _int(j, "hidden_size")
    heads = _int(j, "num_attention_heads")
    head_dim = _int(j, "head_dim", 0)
    if not head_dim:
        if heads <= 0 or d % heads:
            raise ConfigError("config: num_attention_heads does not divide hidden_size")
        head_dim = d // heads
    rope = None
    if j.get("rope_parameters") is not None:
        rope = _parse_rope_scaling(j["rope_parameters"], "rope_parameters")
    elif j.get("rope_scaling") is not None:
        rope = _parse_rope_scaling(j["rope_scaling"], "rope_scaling")
    theta = _num(j, "rope_theta", 10000.0)
    if isinstance(j.get("rope_parameters"), dict) and "rope_theta" in j["rope_parameters"]:
        theta = _num(j["rope_parameters"], "rope_theta", where="rope_parameters")
    act = j.get("hidden_act", "silu")
    act = {"swish": "silu"}.get(act, act)
    if act not in ("silu", "gelu", "relu"):
        raise ConfigError("config: hidden_act %r is not supported" % act)
    if (qwen3 or not qwen2) and not mistral and j.get("attention_bias"):
        raise ConfigError("config: attention_bias for %s (an o_proj bias) is not supported" % mt)
    if j.get("mlp_bias"):
        raise ConfigError("config: mlp_bias is not supported")
    ctx = _int(j, "max_position_embeddings", 32768 if qwen2 else 131072 if mistral else 2048)
    window = j.get("sliding_window", 4096 if mistral and "sliding_window" not in j else None)
    if window is not None and window < ctx and (
            j.get("use_sliding_window", not qwen2) is True):
        raise ConfigError("config: sliding_window %d is not supported" % window)
    for key in ("qk_layernorm", "use_qk_norm", "qk_norm"):
        if j.get(key) and not qwen3:
            raise ConfigError("config: %s is not supported" % key)
    for key in ("attn_logit_softcapping", "final_logit_softcapping"):
        if j.get(key) is not None:
            raise ConfigError("config: %s is not supported" % key)
    bos = j.get("bos_token_id", None if qwen2 else 1)
    eos = j.get("eos_token_id", None if qwen2 else 2)
    eos_ids = [] if eos is None else list(eos) if isinstance(eos, list) else [eos]
    return ModelConfig(
        model_type=mt, hidden_size=d, intermediate_size=_int(j, "intermediate_size"),
        num_layers=_int(j, "num_hidden_layers"), num_heads=heads,
        num_kv_heads=_int(j, "num_key_value_heads", heads), head_dim=head_dim,
        vocab_size=_int(j, "vocab_size"), max_position_embeddings=ctx,
        rms_norm_eps=_num(j, "rms_norm_eps", 1e-6), rope_theta=theta, rope_scaling=rope,
        tie_word_embeddings=bool(j.get("tie_word_embeddings", False)),
        attention_bias=(qwen2 and not qwen3) or bool(mistral and j.get("attention_bias")),
        qk_norm=qwen3,
        hidden_act=act, bos_token_id=-1 if bos is None else int(bos),
        eos_token_ids=[int(e) for e in eos_ids])


def load_model_config(path):
    """Reads and parses a config.json file."""
    with open(path) as f:
        return parse_model_config(json.load(f))


ROUTER_FORMAT = "radial-router/1"
ROUTER_KEYS = ("format", "num_layers", "hidden_size", "router_hidden", "activation",
               "norm_eps", "mode", "threshold", "max_steps", "pinned_layers", "kv_policy")


@dataclass
class RouterConfig:
    """radial.json: the router's shape and its routing settings."""
    num_layers: int          # L
    hidden_size: int         # d
    router_hidden: int       # r
    activation: str          # silu | gelu | relu
    norm_eps: float
    mode: str                # forward | radial
    threshold: float         # [0, 1]
    max_steps: int           # [1, 8 L]
    pinned_layers: List[int]
    kv_policy: str           # propagate | sparse

    def to_json(self):
        return {"format": ROUTER_FORMAT, "num_layers": self.num_layers,
                "hidden_size": self.hidden_size, "router_hidden": self.router_hidden,
                "activation": self.activation, "norm_eps": self.norm_eps, "mode": self.mode,
                "threshold": self.threshold, "max_steps": self.max_steps,
                "pinned_layers": list(self.pinned_layers), "kv_policy": self.kv_policy}


def parse_router_config(j, model=None):
    """A radial.json object -> RouterConfig, checked against `model` if given."""
    w = "radial.json"
    if not isinstance(j, dict):
        raise ConfigError("%s: not a JSON object" % w)
    for k in j:
        if k not in ROUTER_KEYS:
            raise ConfigError("%s: unknown key %r" % (w, k))
    for k in ROUTER_KEYS:
        if k not in j:
            raise ConfigError("%s: missing %r" % (w, k))
    if j["format"] != ROUTER_FORMAT:
        raise ConfigError("%s: unsupported format %r" % (w, j["format"]))
    for k in ("activation", "mode", "kv_policy"):
        if not isinstance(j[k], str):
            raise ConfigError("%s: %r must be a string" % (w, k))
    pins = j["pinned_layers"]
    if not isinstance(pins, list):
        raise ConfigError("%s: 'pinned_layers' must be an array of layer ids" % w)
    c = RouterConfig(
        num_layers=_int(j, "num_layers", where=w), hidden_size=_int(j, "hidden_size", where=w),
        router_hidden=_int(j, "router_hidden", where=w), activation=j["activation"],
        norm_eps=_num(j, "norm_eps", where=w), mode=j["mode"],
        threshold=_num(j, "threshold", where=w), max_steps=_int(j, "max_steps", where=w),
        pinned_layers=[_int({"p": p}, "p", where=w + " pinned_layers") for p in pins],
        kv_policy=j["kv_policy"])
    L = c.num_layers
    if model is not None and (L != model.num_layers or c.hidden_size != model.hidden_size):
        raise ConfigError("%s: num_layers/hidden_size do not match the model" % w)
    if c.activation not in ("silu", "gelu", "relu"):
        raise ConfigError("%s: activation must be silu, gelu or relu" % w)
    if c.mode not in ("forward", "radial"):
        raise ConfigError("%s: mode must be forward or radial" % w)
    if c.kv_policy not in ("propagate", "sparse"):
        raise ConfigError("%s: kv_policy must be propagate or sparse" % w)
    if not 1 <= c.router_hidden <= 65536:
        raise ConfigError("%s: router_hidden must be in [1, 65536]" % w)
    if not c.norm_eps > 0:
        raise ConfigError("%s: norm_eps must be > 0" % w)
    if not 0.0 <= c.threshold <= 1.0:
        raise ConfigError("%s: threshold must be in [0, 1]" % w)
    if not 1 <= c.max_steps <= 8 * L:
        raise ConfigError("%s: max_steps must be in [1, %d]" % (w, 8 * L))
    if any(not 0 <= p < L for p in c.pinned_layers) or len(set(c.pinned_layers)) != len(pins):
        raise ConfigError("%s: pinned_layers must be distinct layers in [0, %d)" % (w, L))
    if c.mode == "radial" and c.kv_policy != "sparse":
        raise ConfigError('%s: radial mode requires kv_policy "sparse"' % w)
    return c


def load_router_config(path, model=None):
    """Reads and parses a radial.json file."""
    with open(path) as f:
        return parse_router_config(json.load(f), model)
