#!/usr/bin/env python3
"""Writes a tiny LlamaForCausalLM checkpoint in torch.save's zip format (pytorch_model.bin, and sharded with
pytorch_model.bin.index.json) without torch, for Tessel's reader of such files (runtime's HfCheckpoint); the fixture
under runtime/src/test/resources/torch-checkpoint/ is this script's output:

    python3 benchmarks/peers/make_torch_checkpoint.py runtime/src/test/resources/torch-checkpoint

OUT/bin          config.json, pytorch_model.bin: the state dict as model.state_dict() gives it (an OrderedDict whose
                 _metadata attribute maps module names to {'version': 1}, pickled through BUILD)
OUT/bin-sharded  config.json, pytorch_model.bin.index.json and two shards, plain dicts, as transformers' save_pretrained
                 writes them split by huggingface_hub's rule (tensors sharing a storage in one shard; weight_map sorted by
                 name; metadata.total_size the bytes of the first tensor of each storage, in state-dict order)
OUT/expected     config.json, model.safetensors: every tensor's values (after the file's F16/BF16 rounding) as
                 contiguous F32 in transformers' [out, in] layout, written here from numpy, so the Java test compares its
                 reading of the pickles with data that Java did not produce

The state dict exercises what a reader of torch's format must do: lm_head.weight shares embed_tokens' storage (tied
weights, two tensors, one storage); q_proj and k_proj are views of one storage (k at storage offset 256); o_proj and
up_proj are transposed views (strides (1, 16) and (1, 32): the values gathered by strides); storages are F32, F16 and
BF16; an old-style rotary_emb.inv_freq buffer is present.

torch.save's layout, reproduced byte for byte in data.pkl: pickle protocol 2 of the object, where a tensor reduces to
torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, OrderedDict()) and each storage
is written as a persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel), keys '0', '1', ... in order of first
use (torch/serialization.py, _save). Stand-in modules `torch` and `torch._utils` in sys.modules give the pickler the same
GLOBAL names torch's objects have. The zip: records under a folder named after the file (PyTorchStreamWriter's
basename), data.pkl, .format_version, .storage_alignment, byteorder ("little"), data/<key> (the storage's bytes),
version ("3\n"), stored uncompressed, each record's data aligned to 64 bytes by an "FB" extra field of padding.

--real-torch writes OUT with torch.save itself (torch importable) from the same arrays, views and sharing, and with
--compare DIR says whether each data.pkl equals DIR's (the stand-in's) byte for byte. Check the Java reader against
real torch output with: HfCheckpointTest -Dtessel.torch.checkpoint=OUT.
"""
import argparse
import collections
import io
import json
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np

CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": 16,
          "intermediate_size": 32, "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1,
          "vocab_size": 32, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "max_position_embeddings": 64,
          "tie_word_embeddings": False, "torch_dtype": "float32"}
H, FFN, KV, VOCAB = 16, 32, 8, 32
WIDTH = {"F32": 4, "F16": 2, "BF16": 2}
STORAGE_TYPE = {"F32": "FloatStorage", "F16": "HalfStorage", "BF16": "BFloat16Storage"}


def bf16_bits(a):
    """float32 -> bfloat16 bits, round to nearest even (as torch's .to(torch.bfloat16))."""
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


class Storage:
    """One storage: its dtype and its elements' bytes (little-endian)."""

    def __init__(self, dtype, values):
        self.dtype = dtype
        flat = np.asarray(values, dtype=np.float32).reshape(-1)
        if dtype == "F32":
            self.raw = flat.astype("<f4").tobytes()
            self.decoded = flat.copy()
        elif dtype == "F16":
            half = flat.astype("<f2")
            self.raw = half.tobytes()
            self.decoded = half.astype(np.float32)
        else:
            bits = bf16_bits(flat)
            self.raw = bits.astype("<u2").tobytes()
            self.decoded = (bits.astype(np.uint32) << 16).view(np.float32)
        self.numel = flat.size


class View:
    """A tensor over a storage: offset, size and stride in elements, as torch's."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def values(self):
        return np.lib.stride_tricks.as_strided(self.storage.decoded[self.offset:], shape=self.size,
                                               strides=tuple(4 * s for s in self.stride)).copy()


def contiguous(storage, shape, offset=0):
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    return View(storage, offset, shape, strides)


def state_dict():
    """name -> View, in LlamaForCausalLM.state_dict()'s order."""
    rng = np.random.default_rng(14)
    w = lambda *shape: (rng.standard_normal(shape) * 0.3).astype(np.float32)
    norm = lambda n: (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    embed = Storage("F32", w(VOCAB, H))
    qk = Storage("F32", np.concatenate([w(H, H).reshape(-1), w(KV, H).reshape(-1)]))  # q_proj then k_proj in one storage
    o_t = Storage("F32", w(H, H))  # o_proj.weight stored transposed: storage[i, o], the tensor [o, i] a view
    up_t = Storage("BF16", w(H, FFN))  # up_proj.weight [FFN, H] as a transposed view of a [H, FFN] storage
    head_dim = H // 2
    inv_freq = (1.0 / 10000.0 ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim)).astype(np.float32)
    p = "model.layers.0."
    return collections.OrderedDict([
        ("model.embed_tokens.weight", contiguous(embed, (VOCAB, H))),
        (p + "self_attn.q_proj.weight", contiguous(qk, (H, H))),
        (p + "self_attn.k_proj.weight", contiguous(qk, (KV, H), offset=H * H)),
        (p + "self_attn.v_proj.weight", contiguous(Storage("F16", w(KV, H)), (KV, H))),
        (p + "self_attn.o_proj.weight", View(o_t, 0, (H, H), (1, H))),
        (p + "self_attn.rotary_emb.inv_freq", contiguous(Storage("F32", inv_freq), (head_dim // 2,))),
        (p + "mlp.gate_proj.weight", contiguous(Storage("BF16", w(FFN, H)), (FFN, H))),
        (p + "mlp.up_proj.weight", View(up_t, 0, (FFN, H), (1, FFN))),
        (p + "mlp.down_proj.weight", contiguous(Storage("F32", w(H, FFN)), (H, FFN))),
        (p + "input_layernorm.weight", contiguous(Storage("F16", norm(H)), (H,))),
        (p + "post_attention_layernorm.weight", contiguous(Storage("F32", norm(H)), (H,))),
        ("model.norm.weight", contiguous(Storage("F32", norm(H)), (H,))),
        ("lm_head.weight", contiguous(embed, (VOCAB, H))),  # tied: the embedding's storage
    ])


def metadata_modules():
    """model.state_dict()._metadata: each module's prefix -> {'version': 1}."""
    names = ["", "model", "model.embed_tokens", "model.layers", "model.layers.0", "model.layers.0.self_attn",
             "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
             "model.layers.0.self_attn.o_proj", "model.layers.0.self_attn.rotary_emb", "model.layers.0.mlp",
             "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj",
             "model.layers.0.mlp.act_fn", "model.layers.0.input_layernorm", "model.layers.0.post_attention_layernorm",
             "model.norm", "lm_head"]
    return collections.OrderedDict((n, {"version": 1}) for n in names)


def shards(sd, max_shard_size=5000):
    """huggingface_hub's split_state_dict_into_shards_factory: tensors in state-dict order, a new shard when the next
    one would pass max_shard_size, a tensor whose storage an earlier one has skipped and then added to that one's shard
    (after the shard's own tensors); metadata.total_size the bytes of each storage's first tensor. Two shards here."""
    groups, split, current, size, total = {}, [], collections.OrderedDict(), 0, 0
    for k, v in sd.items():
        if id(v.storage) in groups:
            groups[id(v.storage)].append(k)
            continue
        groups[id(v.storage)] = [k]
        n = int(np.prod(v.size)) * WIDTH[v.storage.dtype]
        if size + n > max_shard_size:
            split.append(current)
            current, size = collections.OrderedDict(), 0
        current[k] = v
        size += n
        total += n
    split.append(current)
    for keys in groups.values():
        shard = next(s for s in split if keys[0] in s)
        for k in keys:
            shard[k] = sd[k]
    return split, total


# ---- the stand-in torch: the same GLOBAL names and persistent ids as torch.save -------------------------------------

def stand_in_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("stand-in: never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in STORAGE_TYPE.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    return torch


class TypedStorage:
    """What Tensor.__reduce_ex__ hands the pickler: a new wrapper of the tensor's storage each time."""

    def __init__(self, storage):
        self.storage = storage


class Tensor:
    def __init__(self, view, torch):
        self.view, self.torch = view, torch

    def __reduce_ex__(self, protocol):
        v = self.view
        return (self.torch._utils._rebuild_tensor_v2,
                (TypedStorage(v.storage), v.offset, tuple(v.size), tuple(v.stride), False, collections.OrderedDict()))


def stand_in_save(obj, torch):
    """torch.save's _save: data.pkl and the storages in order of their keys."""
    id_map, storages = {}, {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, TypedStorage):
                key = id_map.setdefault(id(o.storage), str(len(id_map)))
                storages[key] = o.storage
                return ('storage', getattr(torch, STORAGE_TYPE[o.storage.dtype]), key, 'cpu', o.storage.numel)
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue(), [(k, storages[k].raw) for k in storages]


def write_zip(path, pkl, storages):
    archive = path.name.rsplit(".", 1)[0]
    records = [("data.pkl", pkl), (".format_version", b"1"), (".storage_alignment", b"64"), ("byteorder", b"little")]
    records += [("data/" + k, raw) for k, raw in storages]
    records += [("version", b"3\n")]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            info = zipfile.ZipInfo(archive + "/" + name, date_time=(1980, 1, 1, 0, 0, 0))
            start = z.fp.tell() + 30 + len(info.filename) + 4
            pad = -start % 64
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            z.writestr(info, data)


def torch_state(sd, plain, torch):
    obj = collections.OrderedDict((k, Tensor(v, torch)) for k, v in sd.items())
    if plain:
        return dict(obj)
    obj._metadata = metadata_modules()
    return obj


# ---- real torch ------------------------------------------------------------------------------------------------------

def real_state(sd, plain):
    import torch
    made = {}

    def storage_tensor(s):
        if id(s) not in made:
            if s.dtype == "F32":
                t = torch.from_numpy(np.frombuffer(s.raw, dtype="<f4").copy())
            elif s.dtype == "F16":
                t = torch.from_numpy(np.frombuffer(s.raw, dtype="<f2").copy())
            else:
                t = torch.from_numpy(np.frombuffer(s.raw, dtype="<i2").copy()).view(torch.bfloat16)
            made[id(s)] = t
        return made[id(s)]

    obj = collections.OrderedDict((k, storage_tensor(v.storage).as_strided(v.size, v.stride, v.offset).detach()) for k, v in sd.items())
    if plain:
        return dict(obj)
    obj._metadata = metadata_modules()
    return obj


# ---- the folders -----------------------------------------------------------------------------------------------------

def write_expected(dir, sd):
    header, blobs, offset = {}, [], 0
    for k, v in sd.items():
        if k.endswith("rotary_emb.inv_freq"):
            continue
        data = np.ascontiguousarray(v.values(), dtype="<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.size), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    (dir / "model.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--real-torch", action="store_true", help="write the .bin files with torch.save (torch importable)")
    ap.add_argument("--compare", type=Path, help="with --real-torch: a folder this script wrote without torch, whose data.pkl records must be equal")
    args = ap.parse_args()
    sd = state_dict()
    torch = None if args.real_torch else stand_in_torch()
    make = (lambda d, plain: real_state(d, plain)) if args.real_torch else (lambda d, plain: torch_state(d, plain, torch))

    def save(obj, path):
        if args.real_torch:
            import torch as real
            real.save(obj, path)
        else:
            pkl, storages = stand_in_save(obj, torch)
            write_zip(path, pkl, storages)

    files = []
    for sub in ("bin", "bin-sharded", "expected"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
        (args.out / sub / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    save(make(sd, False), args.out / "bin" / "pytorch_model.bin")
    files.append("bin/pytorch_model.bin")
    split, total = shards(sd)
    weight_map = {}
    for i, s in enumerate(split):
        name = f"pytorch_model-{i + 1:05d}-of-{len(split):05d}.bin"
        save(make(s, True), args.out / "bin-sharded" / name)
        files.append("bin-sharded/" + name)
        weight_map.update((k, name) for k in s)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (args.out / "bin-sharded" / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    write_expected(args.out / "expected", sd)
    print(f"wrote {args.out} ({'torch.save' if args.real_torch else 'stand-in torch'}): " + ", ".join(files) + ", expected/model.safetensors")
    if args.compare:
        same = True
        for f in files:
            pkl = lambda p: next(zipfile.ZipFile(p).read(n) for n in zipfile.ZipFile(p).namelist() if n.endswith("/data.pkl"))
            equal = pkl(args.out / f) == pkl(args.compare / f)
            same &= equal
            print(f"{f}: data.pkl {'equal to' if equal else 'DIFFERS from'} {args.compare / f}")
        sys.exit(0 if same else 1)

if __name__ == "__main__":
    main()
