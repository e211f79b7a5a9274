#!/usr/bin/env python3
"""Writes tiny_mixed.gguf: a 1-layer llama-architecture GGUF v3 (d 32, 2 heads,
1 KV head, ff 256, vocab 8, output.weight absent: tied) whose tensors are
F32, F16, BF16, Q8_0 (attn_v, ffn_gate: d 0.5, quants (col % 7) - 3) and Q4_K
(ffn_down: d 0.5, dmin 0.25, every scale 2 and min 1, quant bytes 0x53, so
even sub-blocks hold 0.5*2*3 - 0.25 = 2.75 and odd ones 0.5*2*5 - 0.25 = 4.75).
Q6_K is covered by test_gguf_quant.cpp only. Embedded 8-token
SentencePiece-style vocabulary, an end-of-turn id (7) and a chat template.
Also the seed of the fuzz_gguf corpus.
Usage: make_tiny_mixed.py OUT.gguf"""
import struct, sys

def s(x):
    b = x.encode()
    return struct.pack('<Q', len(b)) + b

kv = []
def put(key, typ, payload):
    kv.append(s(key) + struct.pack('<I', typ) + payload)
put('general.architecture', 8, s('llama'))
for k, v in [('block_count', 1), ('embedding_length', 32), ('feed_forward_length', 256),
             ('attention.head_count', 2), ('attention.head_count_kv', 1), ('context_length', 64)]:
    put('llama.' + k, 4, struct.pack('<I', v))
put('llama.attention.layer_norm_rms_epsilon', 6, struct.pack('<f', 1e-5))
put('llama.rope.freq_base', 6, struct.pack('<f', 10000.0))
toks = ['<unk>', '<s>', '</s>', '\u2581a', '\u2581b', 'a', 'b', '\u2581']
types = [2, 3, 3, 1, 1, 1, 1, 1]
scores = [0, 0, 0, -1, -2, -3, -4, -5]
put('tokenizer.ggml.model', 8, s('llama'))
put('tokenizer.ggml.tokens', 9, struct.pack('<IQ', 8, len(toks)) + b''.join(s(t) for t in toks))
put('tokenizer.ggml.scores', 9, struct.pack('<IQ', 6, 8) + struct.pack('<8f', *scores))
put('tokenizer.ggml.token_type', 9, struct.pack('<IQ', 5, 8) + struct.pack('<8i', *types))
put('tokenizer.ggml.bos_token_id', 4, struct.pack('<I', 1))
put('tokenizer.ggml.eos_token_id', 4, struct.pack('<I', 2))
put('tokenizer.ggml.eot_token_id', 4, struct.pack('<I', 7))
put('tokenizer.chat_template', 8,
    s("{% for m in messages %}{{ bos_token + m['role'] + ': ' + m['content'] + eos_token }}{% endfor %}"))

def f32(n, f): return b''.join(struct.pack('<f', f(i)) for i in range(n))
def f16(n, f): return b''.join(struct.pack('<e', f(i)) for i in range(n))
def bf16(n, f): return b''.join(struct.pack('<f', f(i))[2:] for i in range(n))
def q8_0(rows, cols):
    out = b''
    for r in range(rows):
        for blk in range(cols // 32):
            out += struct.pack('<e', 0.5) + bytes(((blk * 32 + i) % 7 - 3) & 0xFF for i in range(32))
    return out
def q4_k(rows, cols):
    scales = bytes([2, 2, 2, 2, 1, 1, 1, 1, 0x12, 0x12, 0x12, 0x12])
    blk = struct.pack('<ee', 0.5, 0.25) + scales + bytes([0x53] * 128)
    return blk * (rows * cols // 256)

d, ff, kvd, V = 32, 256, 16, 8
tensors = [  # name, ne (fastest first), ggml type, bytes
    ('token_embd.weight', [d, V], 0, f32(V * d, lambda i: ((i * 37) % 17 - 8) / 16)),
    ('output_norm.weight', [d], 0, f32(d, lambda i: 1.0)),
    ('blk.0.attn_norm.weight', [d], 0, f32(d, lambda i: 1.0)),
    ('blk.0.ffn_norm.weight', [d], 1, f16(d, lambda i: 1.0)),
    ('blk.0.attn_q.weight', [d, d], 1, f16(d * d, lambda i: ((i * 13) % 11 - 5) / 32)),
    ('blk.0.attn_k.weight', [d, kvd], 30, bf16(kvd * d, lambda i: ((i * 7) % 9 - 4) / 16)),
    ('blk.0.attn_v.weight', [d, kvd], 8, q8_0(kvd, d)),
    ('blk.0.attn_output.weight', [d, d], 0, f32(d * d, lambda i: ((i * 5) % 13 - 6) / 64)),
    ('blk.0.ffn_gate.weight', [d, ff], 8, q8_0(ff, d)),
    ('blk.0.ffn_up.weight', [d, ff], 30, bf16(ff * d, lambda i: ((i * 3) % 5 - 2) / 8)),
    ('blk.0.ffn_down.weight', [ff, d], 12, q4_k(d, ff)),
]
infos, data = b'', b''
for name, ne, typ, blob in tensors:
    while len(data) % 32: data += b'\0'
    infos += s(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne)
    infos += struct.pack('<IQ', typ, len(data))
    data += blob
head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kv)) + b''.join(kv) + infos
head += b'\0' * (-len(head) % 32)
open(sys.argv[1], 'wb').write(head + data)
