#!/usr/bin/env python3
"""Writes Fashion-MNIST training images as calibration batches for `tessel ... --calib DIR`: f32 [B, 1, 28, 28],
pixels / 255 (as scripts/train-fashion-mnist.py and FashionMnistInt8Test feed the model), one .npy per batch.
Standard library only. Usage: fashion-calib.py TRAIN_IMAGES_IDX_GZ OUT_DIR [--images 512] [--batch 64]"""
import argparse, gzip, os, struct, sys

p = argparse.ArgumentParser()
p.add_argument("images_idx")
p.add_argument("out")
p.add_argument("--images", type=int, default=512)
p.add_argument("--batch", type=int, default=64)
a = p.parse_args()
with gzip.open(a.images_idx, "rb") as f:
    magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
    if magic != 2051:
        sys.exit(f"{a.images_idx}: not an IDX image file (magic {magic}, expected 2051)")
    if a.images > n or a.images % a.batch:
        sys.exit(f"--images {a.images} must be at most {n} and a multiple of --batch {a.batch}")
    data = f.read(a.images * rows * cols)
os.makedirs(a.out, exist_ok=True)
px = rows * cols
for b in range(a.images // a.batch):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1, %d, %d), }" % (a.batch, rows, cols)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    chunk = data[b * a.batch * px:(b + 1) * a.batch * px]
    with open(os.path.join(a.out, "train-%03d.npy" % b), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%df" % len(chunk), *[v / 255.0 for v in chunk]))
