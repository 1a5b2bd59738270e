#!/usr/bin/env python3
"""Exports the model families users deploy to ONNX, with ONNX Runtime reference outputs and PyTorch timings.

For the GPU machine (PyTorch, torchvision, transformers, onnxruntime's CPU provider; no network): every model
is a real published architecture with random weights (seed 0, eval mode):

  efficientnet_b0        torchvision, 224x224, dynamic batch
  convnext_tiny          torchvision, 224x224, dynamic batch
  lraspp_mobilenet_v3    torchvision lraspp_mobilenet_v3_large (segmentation: Resize, skip), 512x512, its 'out' map
  ssdlite320             torchvision ssdlite320_mobilenet_v3_large with its post-processing (NonMaxSuppression),
                         batch 1 (the detection API takes a list of images)
  ssdlite320_head        the same detector's backbone and head only (boxes and class logits, no NMS), dynamic batch
  ssdlite320_effnms      the same backbone and head, then torchvision's box decoding (its anchors and box coder, boxes
                         clipped to the image) and softmax in torch, ending in TensorRT's EfficientNMS_TRT (domain TRT;
                         torchvision's ssdlite320 values: score > 0.001, IoU 0.55, 300 detections, background class 0);
                         batch 1. ONNX Runtime has no TRT ops: this model's reference outputs are PyTorch's (the forward
                         of the NMS function, EfficientNMS's semantics as Tessel's EfficientNmsOp states them), written
                         where the others have ONNX Runtime's, with reference.txt saying so
  crnn                   a CRNN-style recognizer defined here, the zoo's `crnn` layer for layer (Shi et al.'s conv stack,
                         a pre-LN transformer encoder over the width columns, LogSoftmax), 32 x 100, dynamic batch and width
  gpt2                   transformers GPT2LMHeadModel with GPT-2 small's config (12 layers, 768 wide), no KV cache,
                         eager attention, sequence 64, dynamic batch and sequence

Per model, under OUT/NAME/:
  model.onnx                      opset 17 (TorchScript exporter; the dynamo exporter at opset 18 if that one is missing or fails)
  test_data_set_0/input_K.pb      the input, an ONNX TensorProto (ONNX's test-data layout, `tessel run --inputs` reads it)
  test_data_set_0/output_K.pb     ONNX Runtime's (CPU) outputs for it (PyTorch's for ssdlite320_effnms)
  inputs/NAME.npy, ort/NAME.npy   the same tensors as .npy, by input and output name
  reference.txt                   only where the reference outputs are not ONNX Runtime's: whose they are, and why
  tessel-flags.txt                the dimension flags Tessel needs for the symbolic dims (--batch 1, --dim width=100, --seq 64)

then PyTorch eager and torch.compile (default mode) on the GPU at batch 1 and 32 (FP32, TF32 off, cudnn.benchmark on;
20 warm-ups, median of 50 calls between CUDA events), and one line per model:

  FAMILY|name|onnx_nodes|params|exporter|ort_vs_torch_max_abs|eager_b1|compile_b1|eager_b32|compile_b32|note

A model that fails to build, export or run prints its line with the step and the error in `note`, and the others go on.

Usage: export-families.py --out DIR [--models a,b] [--batches 1,32] [--compile-budget S] [--no-time]
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time
import traceback

import numpy as np
import torch

from onnx_tensor import tensor_proto  # scripts/onnx_tensor.py, beside this script

WARMUP, ITERS = 20, 50
# models whose PyTorch form is not worth timing: ssdlite320_effnms's NMS is a Python loop written as a reference
NOT_TIMED = {"ssdlite320_effnms": "not timed: its PyTorch NMS is a reference loop, not a deployment"}
MODELS = ["efficientnet_b0", "convnext_tiny", "lraspp_mobilenet_v3", "ssdlite320", "ssdlite320_head", "ssdlite320_effnms", "crnn", "gpt2"]
# EfficientNMS's candidate limit (TensorRT's numSelectedBoxes) and torchvision ssdlite320's post-processing values
NMS_MAX_CANDIDATES = 4096
SSDLITE_NMS = dict(score_threshold=0.001, iou_threshold=0.55, max_output_boxes=300, background_class=0)


# ---- the CRNN of Tessel's zoo (ir/.../zoo/Crnn.java), in PyTorch ------------------------------------------------
class Crnn(torch.nn.Module):
    """Shi et al.'s convolutions (BN after the 3rd, 5th, 7th), height-only pools, then a pre-LN transformer over the
    width columns written out op by op (no fused attention, so it exports as MatMul/Softmax), per-column LogSoftmax."""

    def __init__(self, hidden=256, layers=2, heads=4, ffn=1024, classes=37):
        super().__init__()
        nn = torch.nn
        chans = [64, 128, 256, 256, 512, 512, 512]
        kernels = [3, 3, 3, 3, 3, 3, 2]
        pads = [1, 1, 1, 1, 1, 1, 0]
        bns = [False, False, True, False, True, False, True]
        pools = {0: (2, 2), 1: (2, 2), 3: (2, 1), 5: (2, 1)}
        cnn, cin = [], 1
        for i, (c, k, p, bn) in enumerate(zip(chans, kernels, pads, bns)):
            cnn.append(nn.Conv2d(cin, c, k, 1, p, bias=not bn))
            if bn:
                cnn.append(nn.BatchNorm2d(c))
            cnn.append(nn.ReLU())
            if i in pools:
                cnn.append(nn.MaxPool2d(pools[i], pools[i]))
            cin = c
        self.cnn = nn.Sequential(*cnn)
        self.input_proj = nn.Linear(512, hidden)
        self.heads = heads
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(nn.ModuleDict(dict(
                norm1=nn.LayerNorm(hidden), q=nn.Linear(hidden, hidden), k=nn.Linear(hidden, hidden), v=nn.Linear(hidden, hidden),
                out=nn.Linear(hidden, hidden), norm2=nn.LayerNorm(hidden), linear1=nn.Linear(hidden, ffn), linear2=nn.Linear(ffn, hidden))))
        self.norm = nn.LayerNorm(hidden)
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, image):
        f = self.cnn(image)                          # [N, 512, 1, T]
        x = self.input_proj(f.squeeze(2).transpose(1, 2))
        n, t, d = x.shape
        hd = d // self.heads
        for m in self.layers:
            h = m["norm1"](x)
            q = m["q"](h).reshape(n, t, self.heads, hd).transpose(1, 2)
            k = m["k"](h).reshape(n, t, self.heads, hd).permute(0, 2, 3, 1)
            v = m["v"](h).reshape(n, t, self.heads, hd).transpose(1, 2)
            a = torch.softmax(torch.matmul(q, k) / (hd ** 0.5), dim=-1)
            c = torch.matmul(a, v).transpose(1, 2).reshape(n, t, d)
            x = x + m["out"](c)
            x = x + m["linear2"](torch.nn.functional.gelu(m["linear1"](m["norm2"](x))))
        return torch.log_softmax(self.classifier(self.norm(x)), dim=-1)


class FirstOutput(torch.nn.Module):
    """A model whose forward returns a dict, reduced to one tensor (segmentation's 'out')."""

    def __init__(self, net, key):
        super().__init__()
        self.net, self.key = net, key

    def forward(self, x):
        return self.net(x)[self.key]


class DetectorWithNms(torch.nn.Module):
    """torchvision's detection API (a list of images in, a list of dicts out) with tensors in and out: every image of
    the batch is detected (so timing at batch 32 does the work of 32), the first image's detections are returned
    (the export is at batch 1, where that is all of them)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        d = self.net(list(x.unbind(0)))[0]
        return d["boxes"], d["scores"], d["labels"]


class DetectorHead(torch.nn.Module):
    """The detector without its post-processing: backbone features, then the SSDLite head's raw predictions."""

    def __init__(self, net):
        super().__init__()
        self.backbone, self.head = net.backbone, net.head

    def forward(self, x):
        feats = list(self.backbone(x).values())
        h = self.head(feats)
        return h["bbox_regression"], h["cls_logits"]


def efficient_nms(boxes, scores, score_threshold, iou_threshold, max_output_boxes, background_class):
    """EfficientNMS_TRT with corner boxes [B, N, 4] and scores [B, N, C], no activation, per class: Tessel's EfficientNmsOp
    semantics. Candidates are (box n, class c), c != background_class, with score > score_threshold, ordered by score
    descending then flat index n * C + c ascending (a stable sort), the first 4096 considered; walking them, a candidate
    is kept unless a kept one of its class overlaps it with IoU > iou_threshold, until max_output_boxes are kept. IoU in
    float32 from corners normalized per axis, one rounding per operation (torch's CPU kernels do not fuse them), 0 when
    the union is <= 0. Returns num_detections int32 [B, 1], boxes [B, M, 4], scores [B, M], classes int32 [B, M], zeros
    past the count."""
    b, n, c = scores.shape
    m = max_output_boxes
    dev = scores.device
    num = torch.zeros(b, 1, dtype=torch.int32, device=dev)
    out_boxes, out_scores = torch.zeros(b, m, 4, dtype=scores.dtype, device=dev), torch.zeros(b, m, dtype=scores.dtype, device=dev)
    out_classes = torch.zeros(b, m, dtype=torch.int32, device=dev)
    zero = torch.zeros((), device=dev)
    for i in range(b):
        flat = scores[i].reshape(-1).float()
        index = torch.arange(n * c, device=dev)
        cand = index[(flat > score_threshold) & (index % c != background_class)]
        cand = cand[torch.sort(flat[cand], descending=True, stable=True).indices][:NMS_MAX_CANDIDATES]
        cls = cand % c
        box = boxes[i, cand // c].float()
        lo = torch.minimum(box[:, 0:2], box[:, 2:4])
        hi = torch.maximum(box[:, 0:2], box[:, 2:4])
        area = (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1])
        alive = torch.ones(len(cand), dtype=torch.bool, device=dev)
        kept = []
        for k in range(len(cand)):
            if not alive[k]:
                continue
            kept.append(k)
            if len(kept) == m:
                break
            wh = torch.minimum(hi[k], hi) - torch.maximum(lo[k], lo)
            inter = torch.where((wh[:, 0] > 0) & (wh[:, 1] > 0), wh[:, 0] * wh[:, 1], zero)
            union = (area[k] + area) - inter
            iou = torch.where(union > 0, inter / union, zero)
            alive &= ~((iou > iou_threshold) & (cls == cls[k]))
        kept = torch.tensor(kept, dtype=torch.long, device=dev)
        num[i, 0] = len(kept)
        if len(kept):
            out_boxes[i, :len(kept)] = boxes[i, cand[kept] // c]
            out_scores[i, :len(kept)] = scores[i].reshape(-1)[cand[kept]]
            out_classes[i, :len(kept)] = cls[kept].int()
    return num, out_boxes, out_scores, out_classes


class EfficientNmsTrt(torch.autograd.Function):
    """TensorRT's EfficientNMS_TRT: exported as the TRT-domain op (symbolic), computed by efficient_nms (forward)."""

    @staticmethod
    def forward(ctx, boxes, scores, score_threshold, iou_threshold, max_output_boxes, background_class):
        return efficient_nms(boxes, scores, score_threshold, iou_threshold, max_output_boxes, background_class)

    @staticmethod
    def symbolic(g, boxes, scores, score_threshold, iou_threshold, max_output_boxes, background_class):
        return g.op("TRT::EfficientNMS_TRT", boxes, scores, score_threshold_f=score_threshold, iou_threshold_f=iou_threshold,
                    max_output_boxes_i=max_output_boxes, background_class_i=background_class, score_activation_i=0,
                    class_agnostic_i=0, box_coding_i=0, plugin_version_s="1", outputs=4)


class DetectorEfficientNms(torch.nn.Module):
    """ssdlite320 as a fixed-shape detector: backbone and head, torchvision's box decoding against its own anchors
    (computed once for the 320x320 input, a constant), boxes clipped to the image, softmax scores, then EfficientNMS_TRT.
    Like ssdlite320_head, the image goes in as it is (no GeneralizedRCNNTransform)."""

    onnx_custom_opsets = {"TRT": 1}   # export(): the TRT domain's version, TorchScript only (dynamo ignores symbolic)

    def __init__(self, net, size):
        super().__init__()
        from torchvision.models.detection.image_list import ImageList
        self.backbone, self.head, self.box_coder, self.size = net.backbone, net.head, net.box_coder, size
        net.eval()   # the backbone's BatchNorms in training mode refuse the one 1x1 image the anchors are computed on
        with torch.no_grad():
            x = torch.zeros(1, 3, size, size)
            anchors = net.anchor_generator(ImageList(x, [(size, size)]), list(net.backbone(x).values()))[0]
        self.register_buffer("anchors", anchors)

    def forward(self, x):
        h = self.head(list(self.backbone(x).values()))
        b, a = h["bbox_regression"].shape[:2]
        boxes = self.box_coder.decode_single(h["bbox_regression"].reshape(-1, 4), self.anchors.repeat(b, 1)).reshape(b, a, 4)
        boxes = boxes.clamp(min=0, max=self.size)
        scores = torch.softmax(h["cls_logits"], dim=-1)
        p = SSDLITE_NMS
        return EfficientNmsTrt.apply(boxes, scores, p["score_threshold"], p["iou_threshold"], p["max_output_boxes"], p["background_class"])


class Gpt2Logits(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, input_ids):
        return self.net(input_ids=input_ids, use_cache=False, return_dict=True).logits


def build(name, batch):
    """(module, example inputs tuple, input names, output names, dynamic axes, tessel flags) at this batch."""
    import torchvision
    tv = torchvision.models
    img = lambda s: (torch.randn(batch, 3, s, s),)
    if name == "efficientnet_b0":
        return tv.efficientnet_b0(weights=None), img(224), ["input"], ["logits"], {"input": {0: "batch"}, "logits": {0: "batch"}}, ["--batch", "1"]
    if name == "convnext_tiny":
        return tv.convnext_tiny(weights=None), img(224), ["input"], ["logits"], {"input": {0: "batch"}, "logits": {0: "batch"}}, ["--batch", "1"]
    if name == "lraspp_mobilenet_v3":
        net = tv.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)
        return FirstOutput(net, "out"), img(512), ["input"], ["out"], {"input": {0: "batch"}, "out": {0: "batch"}}, ["--batch", "1"]
    if name in ("ssdlite320", "ssdlite320_head", "ssdlite320_effnms"):
        net = tv.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
        if name == "ssdlite320_effnms":
            # batch 1, fixed shapes: the NMS outputs are padded to 300, their count is num_detections
            return DetectorEfficientNms(net, 320), img(320), ["image"], \
                ["num_detections", "detection_boxes", "detection_scores", "detection_classes"], None, []
        if name == "ssdlite320":
            # batch 1 and fixed shapes: the number of detections is data-dependent, the batch a Python list
            return DetectorWithNms(net), img(320), ["image"], ["boxes", "scores", "labels"], None, []
        return DetectorHead(net), img(320), ["image"], ["bbox_regression", "cls_logits"], \
            {"image": {0: "batch"}, "bbox_regression": {0: "batch"}, "cls_logits": {0: "batch"}}, ["--batch", "1"]
    if name == "crnn":
        return Crnn(), (torch.randn(batch, 1, 32, 100),), ["image"], ["log_probs"], \
            {"image": {0: "batch", 3: "width"}, "log_probs": {0: "batch", 1: "columns"}}, ["--batch", "1", "--dim", "width=100"]
    if name == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel
        # eager attention (MatMul/Softmax, not a fused SDPA call): transformers since 4.36 take it as a config key; an
        # older one keeps the key as a plain attribute and has only the eager form anyway (the note prints what ran)
        cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=1024, vocab_size=50257, use_cache=False,
                         resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager")
        net = GPT2LMHeadModel(cfg)
        print(f"FAMILY-INFO|gpt2 attention: {getattr(net.config, '_attn_implementation', 'eager (transformers without the switch)')}",
              file=sys.stderr, flush=True)
        ids = torch.randint(0, cfg.vocab_size, (batch, 64), dtype=torch.int64)
        return Gpt2Logits(net), (ids,), ["input_ids"], ["logits"], \
            {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}, ["--batch", "1", "--seq", "64"]
    raise SystemExit(f"export-families.py: unknown model '{name}' (known: {', '.join(MODELS)})")


def export(module, args, path, input_names, output_names, dynamic_axes):
    """Exports with the TorchScript exporter (opset 17), else the dynamo exporter; returns which one worked. A module with
    onnx_custom_opsets (a custom-domain op written by an autograd.Function's symbolic) goes through TorchScript only."""
    errors = []
    custom = getattr(module, "onnx_custom_opsets", None)
    for dynamo in ((False,) if custom else (False, True)):
        try:
            # opset 17 for TorchScript; 18 for dynamo, its lowest: asking it for 17 runs onnx's version converter, which left
            # opset-18 attributes (Split's num_outputs) in an opset-17 model that ONNX Runtime then refused (GPT-2, 2026-12-06)
            kw = dict(input_names=input_names, output_names=output_names, opset_version=18 if dynamo else 17, do_constant_folding=True)
            if dynamic_axes:
                kw["dynamic_axes"] = dynamic_axes
            if custom:
                kw["custom_opsets"] = custom
            try:
                torch.onnx.export(module, args, path, dynamo=dynamo, **kw)
            except TypeError as e:
                if "dynamo" not in str(e) or dynamo:
                    raise
                torch.onnx.export(module, args, path, **kw)   # a torch without the dynamo switch: TorchScript only
            return "dynamo" if dynamo else "torchscript"
        except Exception as e:  # try the other exporter, keep both messages
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
            print(f"FAMILY-INFO|{os.path.basename(os.path.dirname(path))} export: {errors[-1]}", file=sys.stderr, flush=True)
    raise RuntimeError("; ".join(errors))


def onnx_nodes(path):
    try:
        import onnx
        return str(len(onnx.load(path, load_external_data=False).graph.node))
    except Exception:
        return "-"


def time_it(fn, x):
    with torch.inference_mode():
        for _ in range(WARMUP):
            fn(*x)
        torch.cuda.synchronize()
        ms = []
        for _ in range(ITERS):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn(*x)
            e.record()
            e.synchronize()
            ms.append(s.elapsed_time(e))
    return statistics.median(ms)


def as_tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def export_one(name, out_dir):
    """Builds, exports, runs ONNX Runtime; returns (nodes, params, exporter, ort-vs-torch max abs)."""
    import onnxruntime as ort
    torch.manual_seed(0)
    net, args, ins, outs, dyn, flags = build(name, 1)
    net = net.eval()
    d = os.path.join(out_dir, name)
    for sub in ("test_data_set_0", "inputs", "ort"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    path = os.path.join(d, "model.onnx")
    with torch.no_grad():
        exporter = export(net, args, path, ins, outs, dyn)
        want = [t.numpy() for t in as_tuple(net(*args))]
    with open(os.path.join(d, "tessel-flags.txt"), "w") as f:
        f.write(" ".join(flags) + "\n")
    if getattr(net, "onnx_custom_opsets", None):
        # ONNX Runtime has no TRT ops: PyTorch's outputs are the reference, written where ONNX Runtime's go
        feeds, got, out_names = {n: a.numpy() for n, a in zip(ins, args)}, want, outs
        with open(os.path.join(d, "reference.txt"), "w") as f:
            f.write("pytorch: ONNX Runtime cannot run the model's TRT-domain ops; test_data_set_0/output_K.pb and ort/NAME.npy "
                    "hold the PyTorch module's outputs (its EfficientNMS forward implements EfficientNmsOp's semantics)\n")
        diff = "torch is the reference"
    else:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feeds = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)}
        got, out_names = sess.run(None, feeds), [o.name for o in sess.get_outputs()]
        diff = max_abs_diff(want, got)
    for k, (n, a) in enumerate(feeds.items()):
        open(os.path.join(d, "test_data_set_0", f"input_{k}.pb"), "wb").write(tensor_proto(a, n))
        np.save(os.path.join(d, "inputs", f"{n}.npy"), a)
    for k, (o, a) in enumerate(zip(out_names, got)):
        open(os.path.join(d, "test_data_set_0", f"output_{k}.pb"), "wb").write(tensor_proto(np.asarray(a), o))
        np.save(os.path.join(d, "ort", f"{o}.npy"), np.asarray(a))
    params = sum(p.numel() for p in net.parameters())
    return onnx_nodes(path), params, exporter, diff


def max_abs_diff(want, got):
    """Largest |PyTorch - ONNX Runtime| over all outputs, or why they cannot be compared (a detector's NMS may keep
    a different number of boxes)."""
    if len(want) != len(got):
        return f"{len(got)} outputs, torch {len(want)}"
    worst = 0.0
    for k, (w, g) in enumerate(zip(want, got)):
        g = np.asarray(g)
        if w.shape != g.shape:
            return f"output {k}: shape {g.shape}, torch {w.shape}"
        if w.size:
            worst = max(worst, float(np.max(np.abs(w.astype(np.float64) - g.astype(np.float64)))))
    return f"{worst:.2e}"


def time_one(name, batch, compile_ok):
    """(eager ms, compiled ms or a reason, seconds spent compiling and timing the compiled model) at this batch."""
    torch.manual_seed(0)
    net, args, *_ = build(name, batch)
    net = net.eval().cuda()
    x = tuple(a.cuda() for a in args)
    eager = time_it(net, x)
    comp, t0 = "skipped (compile budget spent)", time.time()
    if compile_ok:
        try:
            torch._dynamo.reset()
            fn = torch.compile(net)
            with torch.inference_mode():
                fn(*x)
            torch.cuda.synchronize()
            comp = f"{time_it(fn, x):.4f}"
        except Exception as e:
            comp = f"failed ({type(e).__name__})"
    spent = time.time() - t0 if compile_ok else 0.0
    del net, x
    torch.cuda.empty_cache()
    return f"{eager:.4f}", comp, spent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the exported models")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated, of: " + ", ".join(MODELS))
    ap.add_argument("--batches", default="1,32", help="batches to time PyTorch at (default 1,32)")
    ap.add_argument("--compile-budget", type=float, default=200.0, help="seconds for all torch.compile runs together")
    ap.add_argument("--no-time", action="store_true", help="export and compute references only")
    a = ap.parse_args()
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"export-families.py: --models: unknown model '{m}' (known: {', '.join(MODELS)})")
    batches = [int(b) for b in a.batches.split(",")]
    os.makedirs(a.out, exist_ok=True)
    timing = not a.no_time and torch.cuda.is_available()
    if timing:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        from torch import _dynamo  # not `import torch._dynamo`: that binds torch as a local of main()
        _dynamo.config.cache_size_limit = 64
        print(f"FAMILY-INFO|torch {torch.__version__}|{torch.cuda.get_device_name()}", flush=True)
    else:
        print(f"FAMILY-INFO|torch {torch.__version__}|no timing ({'--no-time' if a.no_time else 'no CUDA device'})", flush=True)
    compile_spent = 0.0
    summary = {}
    for m in models:
        row = {"nodes": "-", "params": "-", "exporter": "-", "ort_vs_torch": "-", "note": ""}
        t0 = time.time()
        try:
            nodes, params, exporter, diff = export_one(m, a.out)
            row.update(nodes=nodes, params=str(params), exporter=exporter, ort_vs_torch=diff)
        except Exception as e:
            row["note"] = f"export: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
            traceback.print_exc(file=sys.stderr)
        row["export_s"] = round(time.time() - t0, 1)
        for b in batches:
            key_e, key_c = f"eager_b{b}", f"compile_b{b}"
            row[key_e], row[key_c] = "-", "-"
            if not timing:
                continue
            if m in NOT_TIMED:
                if NOT_TIMED[m] not in row["note"]:
                    row["note"] += " " + NOT_TIMED[m]
                continue
            try:
                row[key_e], row[key_c], spent = time_one(m, b, compile_spent < a.compile_budget)
                compile_spent += spent
            except Exception as e:
                row[key_e] = f"failed ({type(e).__name__})"
                row["note"] += f" time b{b}: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        summary[m] = row
        cols = [row["nodes"], row["params"], row["exporter"], row["ort_vs_torch"]] + [row[f"{k}_b{b}"] for b in batches for k in ("eager", "compile")]
        print("FAMILY|" + m + "|" + "|".join(cols) + "|" + row["note"].strip().replace("|", "/"), flush=True)
    with open(os.path.join(a.out, "families.json"), "w") as f:
        json.dump({"batches": batches, "models": summary}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
