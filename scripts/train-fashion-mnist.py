#!/usr/bin/env python3
"""Train a small ResNet-style CNN on Fashion-MNIST and write it as an ONNX file.

Real test material for accuracy work (INT8 calibration, accuracy budgets): random zoo weights say
nothing about accuracy, a trained model on real images does. Needs only numpy and Debian's
`dataset-fashion-mnist` package (apt-get install dataset-fashion-mnist); runs on a CPU in minutes.

    python3 scripts/train-fashion-mnist.py [--epochs 2] [--seed 0] [--out experiments/src/test/resources/fashion-mnist]

Writes, in --out:
  fashion-cnn.onnx          opset 17, input "image" [batch,1,28,28] f32 (pixels / 255), output "logits" [batch,10]
  reference-logits.npy      logits of the first 64 test images, computed here in f64 (an oracle independent of Tessel)
  reference-predictions.npy the class this script's f32 forward pass predicts for each of the 10,000 test images (u8)
  train-report.txt          seed, epochs, widths, train time, test top-1 on the 10,000 test images

The network: conv3x3(1->w) relu, residual block(w), conv3x3 stride 2 (w->2w) relu, residual block(2w),
conv3x3 stride 2 (2w->4w) relu, global average pool, gemm(4w->10). Residual block: conv relu conv, add, relu.
Trained with Adam (lr 1e-3, batch 128), He-initialised, seeded; numpy's BLAS may thread, so bit-exact
repetition is not promised, the accuracy is (within a few tenths of a point).
"""
import argparse, gzip, os, struct, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_tensor import tensor_proto, varint  # scripts/onnx_tensor.py, beside this script

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


# ---------------------------------------------------------------- layers (NHWC inside, OIHW weights as ONNX)
def im2col(x, stride):
    """x [N,H,W,C] -> [N*Ho*Wo, 9*C] for a 3x3 window, pad 1, columns ordered (kh, kw, C)."""
    n, h, w, c = x.shape
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.concatenate([xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride, :] for i in range(3) for j in range(3)], axis=-1)
    return cols.reshape(n * ho * wo, 9 * c), ho, wo


def wmat(w):
    """OIHW weights as the [O, 9*I] matrix im2col's (kh, kw, C) columns multiply."""
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def conv_fwd(x, w, b, stride):
    cm, ho, wo = im2col(x, stride)
    y = cm @ wmat(w).T + b
    return y.reshape(x.shape[0], ho, wo, -1), cm


def conv_bwd(dy, x_shape, cm, w, stride):
    n, ho, wo, co = dy.shape
    dym = dy.reshape(-1, co)
    dw = (dym.T @ cm).reshape(co, 3, 3, -1).transpose(0, 3, 1, 2)
    db = dym.sum(0)
    _, h, wd, c = x_shape
    dcols = (dym @ wmat(w)).reshape(n, ho, wo, 9, c)
    dxp = np.zeros((n, h + 2, wd + 2, c), dtype=dy.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + stride * ho:stride, j:j + stride * wo:stride, :] += dcols[:, :, :, 3 * i + j, :]
    return dxp[:, 1:-1, 1:-1, :], dw, db


LAYERS = [  # name, cin multiple, cout multiple, stride   (multiples of the width w; cin 0 means 1 channel)
    ("stem", 0, 1, 1), ("res1a", 1, 1, 1), ("res1b", 1, 1, 1), ("down1", 1, 2, 2),
    ("res2a", 2, 2, 1), ("res2b", 2, 2, 1), ("down2", 2, 4, 2),
]


def init(width, rng):
    p = {}
    for name, ci, co, _ in LAYERS:
        cin, cout = (ci * width if ci else 1), co * width
        p[name + ".weight"] = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        p[name + ".bias"] = np.zeros(cout, np.float32)
    p["fc.weight"] = (rng.standard_normal((10, 4 * width)) * np.sqrt(1.0 / (4 * width))).astype(np.float32)
    p["fc.bias"] = np.zeros(10, np.float32)
    return p


def forward(p, x, keep=False):
    """x [N,28,28,1] -> logits [N,10]; with keep, also the tape (each conv's input shape, im2col matrix and output) for backward."""
    tape = {}
    def conv(name, h, stride, relu):
        y, cm = conv_fwd(h, p[name + ".weight"], p[name + ".bias"], stride)
        if relu:
            y = np.maximum(y, 0)
        if keep:
            tape[name] = (h.shape, cm, y)
        return y
    h = conv("stem", x, 1, True)
    for blk, down in (("res1", "down1"), ("res2", "down2")):
        t = conv(blk + "a", h, 1, True)
        t = conv(blk + "b", t, 1, False)
        h = np.maximum(t + h, 0)
        if keep:
            tape[blk + ".out"] = h
        h = conv(down, h, 2, True)
    pooled = h.mean(axis=(1, 2))
    if keep:
        tape["pooled"] = pooled
    return pooled @ p["fc.weight"].T + p["fc.bias"], tape


def backward(p, tape, dlogits):
    """Gradients of every parameter, given d loss / d logits."""
    g = {"fc.weight": dlogits.T @ tape["pooled"], "fc.bias": dlogits.sum(0)}
    y = tape["down2"][2]
    dh = np.broadcast_to((dlogits @ p["fc.weight"])[:, None, None, :] / (y.shape[1] * y.shape[2]), y.shape)

    def conv_back(name, dy, relu):
        xs, cm, out = tape[name]
        if relu:
            dy = dy * (out > 0)
        dx, g[name + ".weight"], g[name + ".bias"] = conv_bwd(dy, xs, cm, p[name + ".weight"], xs[1] // out.shape[1])
        return dx

    for blk, down in (("res2", "down2"), ("res1", "down1")):
        dsum = conv_back(down, dh, True) * (tape[blk + ".out"] > 0)   # d (t + h_in)
        da = conv_back(blk + "b", dsum, False)
        dh = conv_back(blk + "a", da, True) + dsum                      # branch + skip
    conv_back("stem", dh, True)
    return g


def softmax_xent(logits, labels):
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    prob = e / e.sum(1, keepdims=True)
    loss = -np.log(prob[np.arange(len(labels)), labels] + 1e-12).mean()
    d = prob
    d[np.arange(len(labels)), labels] -= 1
    return loss, d / len(labels)


# ---------------------------------------------------------------- ONNX, written with the protobuf wire format
def field_varint(num, v): return varint(num << 3) + varint(v)
def field_bytes(num, b): return varint((num << 3) | 2) + varint(len(b)) + b
def field_str(num, s): return field_bytes(num, s.encode())
def field_float(num, f): return varint((num << 3) | 5) + struct.pack("<f", f)


def attr_ints(name, vals):
    return field_str(1, name) + b"".join(field_varint(8, v) for v in vals) + field_varint(20, 7)


def attr_int(name, v): return field_str(1, name) + field_varint(3, v) + field_varint(20, 2)
def attr_float(name, v): return field_str(1, name) + field_float(2, v) + field_varint(20, 1)


def node(op, inputs, outputs, name, attrs=()):
    b = b"".join(field_str(1, i) for i in inputs) + b"".join(field_str(2, o) for o in outputs)
    b += field_str(3, name) + field_str(4, op) + b"".join(field_bytes(5, a) for a in attrs)
    return b


def tensor(name, arr):
    return tensor_proto(np.asarray(arr, dtype=np.float32), name)


def value_info(name, dims):
    shape = b"".join(field_bytes(1, field_str(2, d) if isinstance(d, str) else field_varint(1, d)) for d in dims)
    tt = field_varint(1, 1) + field_bytes(2, shape)
    return field_str(1, name) + field_bytes(2, field_bytes(1, tt))


def to_onnx(p, path):
    nodes, h = [], "image"
    def conv(name, x, stride, relu, out=None):
        y = out or name
        nodes.append(node("Conv", [x, name + ".weight", name + ".bias"], [y if not relu else y + ".pre"], name,
                          [attr_ints("kernel_shape", [3, 3]), attr_ints("pads", [1, 1, 1, 1]), attr_ints("strides", [stride, stride])]))
        if relu:
            nodes.append(node("Relu", [y + ".pre"], [y], name + ".relu"))
        return y
    h = conv("stem", h, 1, True)
    for blk, down in (("res1", "down1"), ("res2", "down2")):
        t = conv(blk + "a", h, 1, True)
        t = conv(blk + "b", t, 1, False)
        nodes.append(node("Add", [t, h], [blk + ".sum"], blk + ".add"))
        nodes.append(node("Relu", [blk + ".sum"], [blk + ".out"], blk + ".relu"))
        h = conv(down, blk + ".out", 2, True)
    nodes.append(node("GlobalAveragePool", [h], ["pooled"], "pool"))
    nodes.append(node("Flatten", ["pooled"], ["features"], "flatten", [attr_int("axis", 1)]))
    nodes.append(node("Gemm", ["features", "fc.weight", "fc.bias"], ["logits"], "fc", [attr_int("transB", 1)]))
    graph = b"".join(field_bytes(1, n) for n in nodes) + field_str(2, "fashion_cnn")
    graph += b"".join(field_bytes(5, tensor(k, v)) for k, v in p.items())
    graph += field_bytes(11, value_info("image", ["batch", 1, 28, 28])) + field_bytes(12, value_info("logits", ["batch", 10]))
    model = field_varint(1, 8) + field_str(2, "tessel train-fashion-mnist.py") + field_bytes(8, field_str(1, "") + field_varint(2, 17))
    model += field_bytes(7, graph)
    with open(path, "wb") as f:
        f.write(model)


def write_npy(path, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    np.save(path, arr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "experiments", "src", "test", "resources", "fashion-mnist"))
    a = ap.parse_args()
    files = {k: os.path.join(a.data, f) for k, f in (("xtr", "train-images-idx3-ubyte.gz"), ("ytr", "train-labels-idx1-ubyte.gz"),
                                                      ("xte", "t10k-images-idx3-ubyte.gz"), ("yte", "t10k-labels-idx1-ubyte.gz"))}
    for f in files.values():
        if not os.path.exists(f):
            sys.exit(f"missing {f}: install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or pass --data DIR")
    xtr = read_idx(files["xtr"]).astype(np.float32)[..., None] / 255.0
    ytr = read_idx(files["ytr"]).astype(np.int64)
    xte = read_idx(files["xte"]).astype(np.float32)[..., None] / 255.0
    yte = read_idx(files["yte"]).astype(np.int64)
    rng = np.random.default_rng(a.seed)
    p = init(a.width, rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    lr, b1, b2, eps, t = 1e-3, 0.9, 0.999, 1e-8, 0
    start = time.time()
    for epoch in range(a.epochs):
        order = rng.permutation(len(xtr))
        total, seen = 0.0, 0
        for s in range(0, len(order), a.batch):
            idx = order[s:s + a.batch]
            logits, tape = forward(p, xtr[idx], keep=True)
            loss, dl = softmax_xent(logits, ytr[idx])
            g = backward(p, tape, dl.astype(np.float32))
            t += 1
            for k in p:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                p[k] -= (lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m[k] / (np.sqrt(v[k]) + eps)).astype(np.float32)
            total += loss * len(idx)
            seen += len(idx)
        print(f"epoch {epoch + 1}/{a.epochs}: loss {total / seen:.4f} ({time.time() - start:.0f} s)", flush=True)
    train_s = time.time() - start
    predictions = np.concatenate([forward(p, xte[s:s + 1000])[0].argmax(1) for s in range(0, len(xte), 1000)])
    top1 = float((predictions == yte).mean())
    os.makedirs(a.out, exist_ok=True)
    to_onnx(p, os.path.join(a.out, "fashion-cnn.onnx"))
    p64 = {k: vv.astype(np.float64) for k, vv in p.items()}
    ref, _ = forward(p64, xte[:64].astype(np.float64))
    write_npy(os.path.join(a.out, "reference-logits.npy"), ref)
    np.save(os.path.join(a.out, "reference-predictions.npy"), predictions.astype(np.uint8))
    params = sum(vv.size for vv in p.values())
    report = (f"seed {a.seed}\nepochs {a.epochs}\nwidth {a.width}\nbatch {a.batch}\nparameters {params}\n"
              f"train_seconds {train_s:.0f}\ntest_top1 {top1:.4f}\ntest_images {len(xte)}\n")
    with open(os.path.join(a.out, "train-report.txt"), "w") as f:
        f.write(report)
    print(report, end="")


if __name__ == "__main__":
    main()
