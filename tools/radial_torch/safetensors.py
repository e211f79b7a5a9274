"""The safetensors format, read and written without the safetensors module.

Debian 12 has no python3-safetensors, so this is the format itself:

    8 bytes    N, the header's length (little-endian unsigned 64-bit)
    N bytes    a JSON object: {name: {"dtype": "F32" | "F16" | "BF16",
               "shape": [...], "data_offsets": [begin, end]}, ...} and an
               optional "__metadata__": {str: str}; padded with spaces
    the rest   the tensors' bytes, little-endian, row-major; offsets are
               relative to the end of the header

Supported dtypes: F32, F16 and BF16 (what radiald reads). BF16 is decoded
and encoded through numpy's uint16/uint32 views (numpy has no bfloat16):
reading is exact; writing rounds float32 to nearest even, as torch does.
"""

import json
import struct

import numpy as np
import torch

# dtype name -> (bytes per element, numpy dtype of the stored bits)
_DTYPES = {
    "F32": (4, np.dtype("<f4")),
    "F16": (2, np.dtype("<f2")),
    "BF16": (2, np.dtype("<u2")),
}

_MAX_HEADER = 100 << 20


class SafetensorsError(ValueError):
    """A file that is not valid safetensors, or a dtype this module lacks."""


def _bf16_bits_to_f32(bits):
    """uint16 array of BF16 bit patterns -> float32 array (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16_bits(x):
    """float32 array -> uint16 BF16 bit patterns, rounded to nearest even.

    NaNs stay NaNs (a quiet NaN with the sign kept)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded[nan] = ((u[nan] >> 16) | 0x0040).astype(np.uint16)
    return rounded


def read_header(data):
    """Parses the header of a file's bytes.

    Returns (entries, metadata, data_start): entries maps each tensor name to
    {"dtype", "shape", "data_offsets"}, checked against each other and the
    file's size. Raises SafetensorsError."""
    if len(data) < 8:
        raise SafetensorsError("file shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise SafetensorsError("header length %d exceeds the file" % n)
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError("header is not JSON: %s" % e)
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    start = 8 + n
    size = len(data) - start
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError("%s: entry needs exactly dtype, shape, data_offsets" % name)
        if e["dtype"] not in _DTYPES:
            raise SafetensorsError("%s: dtype %s not supported (F32, F16, BF16)"
                                   % (name, e["dtype"]))
        shape, offs = e["shape"], e["data_offsets"]
        if (not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape)
                or not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) for o in offs)):
            raise SafetensorsError("%s: bad shape or data_offsets" % name)
        count = 1
        for s in shape:
            count *= s
        begin, end = offs
        if not 0 <= begin <= end <= size or end - begin != count * _DTYPES[e["dtype"]][0]:
            raise SafetensorsError("%s: data_offsets %s do not fit shape %s of %s in %d bytes"
                                   % (name, offs, shape, e["dtype"], size))
    return header, metadata, start


def load(path, dtype=None):
    """Reads every tensor of the file at `path`.

    Returns {name: torch.Tensor}: F32 and F16 tensors keep their dtype, BF16
    ones become torch.bfloat16; with `dtype` (a torch dtype) every tensor is
    converted to it. Shapes are the file's. Raises SafetensorsError."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        entries, _, start = read_header(data)
    except SafetensorsError as e:
        raise SafetensorsError("%s: %s" % (path, e))
    out = {}
    for name, e in entries.items():
        begin, end = e["data_offsets"]
        _, np_dtype = _DTYPES[e["dtype"]]
        arr = np.frombuffer(data, dtype=np_dtype, count=(end - begin) // np_dtype.itemsize,
                            offset=start + begin)
        if e["dtype"] == "BF16":
            t = torch.from_numpy(_bf16_bits_to_f32(arr).copy()).to(torch.bfloat16)
        else:
            t = torch.from_numpy(arr.astype(np_dtype.newbyteorder("="), copy=True))
        t = t.reshape(e["shape"])
        out[name] = t if dtype is None else t.to(dtype)
    return out


def save(path, tensors, dtype="F32", metadata=None):
    """Writes `tensors` ({name: torch.Tensor or numpy array}) to `path`.

    Every tensor is stored as `dtype` ("F32", "F16" or "BF16"), in the order
    of sorted names; the header is padded with spaces to a multiple of 8
    bytes. `metadata` is an optional {str: str}."""
    if dtype not in _DTYPES:
        raise SafetensorsError("dtype %s not supported (F32, F16, BF16)" % dtype)
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, torch.Tensor):
            arr = t.detach().to("cpu", torch.float32).numpy()
        else:
            arr = np.asarray(t, dtype=np.float32)
        arr = np.ascontiguousarray(arr)
        if dtype == "F32":
            raw = arr.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = arr.astype("<f2").tobytes()
        else:
            raw = _f32_to_bf16_bits(arr).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
