#!/usr/bin/env python3
"""ONNX Runtime references of one model at several input shapes, and their comparison with an engine's outputs.

For an engine built with optimization profiles (`tessel build --min-shapes/--opt-shapes/--max-shapes`): the GPU script
runs `tessel run ENGINE --shapes NAME:DIMS --inputs DIR/test_data_set_0 --save-outputs DIR/tessel` per shape and then
this script's `compare` step.

  ort-shapes.py refs MODEL.onnx OUT NAME DIMS [DIMS ...]   per DIMS (e.g. 1x1x32x160): OUT/<DIMS>/test_data_set_0/input_0.pb
                                                           (seeded normal values) and OUT/<DIMS>/ort/<output>.npy
  ort-shapes.py compare OUT/<DIMS>                         worst relative L2 of OUT/<DIMS>/tessel/*.npy against ort/*.npy
                                                           (by name; by order where the names differ), one line

Prints SHAPE-REF|dims|outputs and shapes, or SHAPE-CMP|dims|worst rel L2 (or why not).
"""
import os
import sys

import numpy as np

from onnx_tensor import tensor_proto  # scripts/onnx_tensor.py, beside this script


def refs(model, out, name, dims_list):
    import onnxruntime as ort
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if names != [name]:
        raise SystemExit(f"ort-shapes.py: {model} has inputs {names}; this script feeds one input named {name}")
    for dims in dims_list:
        shape = tuple(int(d) for d in dims.split("x"))
        x = np.random.RandomState(sum(shape)).standard_normal(shape).astype(np.float32)
        d = os.path.join(out, dims)
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        os.makedirs(os.path.join(d, "ort"), exist_ok=True)
        with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
            f.write(tensor_proto(x, name))
        got = sess.run(None, {name: x})
        for o, a in zip(sess.get_outputs(), got):
            np.save(os.path.join(d, "ort", f"{o.name}.npy"), np.asarray(a))
        print(f"SHAPE-REF|{dims}|" + ", ".join(f"{o.name} {list(np.asarray(a).shape)}" for o, a in zip(sess.get_outputs(), got)), flush=True)


def compare(d):
    dims = os.path.basename(os.path.normpath(d))
    ort_dir, got_dir = os.path.join(d, "ort"), os.path.join(d, "tessel")
    if not os.path.isdir(got_dir):
        print(f"SHAPE-CMP|{dims}|no outputs from the engine")
        return
    a, b = sorted(os.listdir(ort_dir)), sorted(os.listdir(got_dir))
    if len(a) != len(b):
        print(f"SHAPE-CMP|{dims}|{len(b)} outputs, ONNX Runtime {len(a)}")
        return
    pairs = [(n, n) for n in a] if set(a) == set(b) else list(zip(a, b))
    worst = 0.0
    for x, y in pairs:
        w, g = np.load(os.path.join(ort_dir, x)).astype(np.float64), np.load(os.path.join(got_dir, y)).astype(np.float64)
        if w.shape != g.shape:
            print(f"SHAPE-CMP|{dims}|{y}: shape {g.shape}, ONNX Runtime {w.shape}")
            return
        worst = max(worst, np.linalg.norm(g - w) / max(np.linalg.norm(w), 1e-30))
    print(f"SHAPE-CMP|{dims}|{worst:.2e}")


def main(argv):
    if len(argv) >= 5 and argv[1] == "refs":
        refs(argv[2], argv[3], argv[4], argv[5:])
    elif len(argv) == 3 and argv[1] == "compare":
        compare(argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
