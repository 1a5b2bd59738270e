#!/usr/bin/env python3
"""PyTorch peer of Tessel's GpuEngineBench: the same models and shapes, timed the same way.

torchvision resnet50 (channels_last) and mobilenet_v2, and transformers' BertModel built from a
config with the zoo's sizes (bert-base: vocab 30522, hidden 768, 12 layers, 12 heads, FFN 3072, GELU
erf, LayerNorm eps 1e-12, with the tanh pooler the zoo has; sequence 128; bert-tiny: vocab 1000,
hidden 128, 2 layers, 2 heads, FFN 512, sequence 16; a model name ending in "-tanh", e.g. bert-base-tanh, computes
GELU in the tanh form, transformers' "gelu_pytorch_tanh", the peer of `tessel build --approximate-gelu`), token ids uniform over the vocabulary and an
attention mask with the last eighth of each row zero (as GpuEngineBench), random weights, eval mode; per
configuration torch eager, torch.compile (default mode) and torch.compile(mode="reduce-overhead")
(CUDA graphs). TF32 off, cudnn.benchmark on. Each time: 20 warm-up calls, then the median and p99
of 100 calls, each between two CUDA events. fp16 means the model and input in half precision.

Prints one line per configuration and mode:  PEER|model|batch|precision|mode|p50_ms|p99_ms
(or PEER|...|mode|skipped|reason). Compilation is slow, so compiled modes run in a priority
order until --compile-budget seconds are spent; the rest print 'skipped'.

Usage: torch_peer.py [--compile-budget S] [--modes eager,compile,reduce-overhead] MODEL:BATCH:PRECISION ...
"""
import argparse
import statistics
import sys
import time

import torch
import torch._dynamo

WARMUP, ITERS = 20, 100


BERT = {
    "bert-base": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, seq=128),
    "bert-tiny": dict(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512, seq=16),
}


def bert_base_name(model):
    """The BERT configuration a model name asks for ('bert-base-tanh' is bert-base with the tanh GELU), or None."""
    base = model[:-len("-tanh")] if model.endswith("-tanh") else model
    return base if base in BERT else None


def build_bert(model, batch, dtype):
    from transformers import BertConfig, BertModel
    c = dict(BERT[bert_base_name(model)])
    seq = c.pop("seq")
    act = "gelu_pytorch_tanh" if model.endswith("-tanh") else "gelu"
    cfg = BertConfig(**c, max_position_embeddings=512, type_vocab_size=2, hidden_act=act, layer_norm_eps=1e-12,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    net = BertModel(cfg, add_pooling_layer=True).eval().cuda().to(dtype=dtype)
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), device="cuda", dtype=torch.int64)
    mask = torch.ones((batch, seq), device="cuda", dtype=torch.int64)
    for b in range(batch):
        mask[b, seq - max(1, seq // 8) * (1 + b % 3):] = 0
    return net, (ids, mask)


def build(model, batch, precision):
    """The network and its positional arguments (a tuple)."""
    dtype = torch.float16 if precision == "fp16" else torch.float32
    if bert_base_name(model):
        return build_bert(model, batch, dtype)
    import torchvision
    if model == "resnet50":
        net, shape = torchvision.models.resnet50(weights=None), (batch, 3, 224, 224)
    elif model == "mobilenetv2":
        net, shape = torchvision.models.mobilenet_v2(weights=None), (batch, 3, 224, 224)
    else:
        raise SystemExit(f"torch_peer.py: unknown model '{model}' (known: resnet50, mobilenetv2, {', '.join(BERT)}, and each BERT's -tanh form)")
    net = net.eval().cuda().to(dtype=dtype, memory_format=torch.channels_last)
    x = torch.randn(shape, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
    return net, (x,)


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
    ms.sort()
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.99 * len(ms)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile-budget", type=float, default=240.0, help="seconds for all torch.compile modes together")
    ap.add_argument("--modes", default="eager,compile,reduce-overhead",
                    help="which of eager, compile, reduce-overhead to time (default all; compiled modes in this order within the budget)")
    ap.add_argument("configs", nargs="+")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch._dynamo.config.cache_size_limit = 64
    print(f"PEER-INFO|torch {torch.__version__}|{torch.cuda.get_device_name()}|cudnn {torch.backends.cudnn.version()}", flush=True)
    modes = a.modes.split(",")
    unknown = [m for m in modes if m not in ("eager", "compile", "reduce-overhead")]
    if unknown:
        raise SystemExit(f"torch_peer.py: unknown mode(s) {unknown} (known: eager, compile, reduce-overhead)")
    configs = [c.split(":") for c in a.configs]
    results = {}
    for model, batch, prec in configs if "eager" in modes else []:
        torch.manual_seed(0)
        net, x = build(model, int(batch), prec.lower())
        p50, p99 = time_it(net, x)
        print(f"PEER|{model}|{batch}|{prec.lower()}|eager|{p50:.4f}|{p99:.4f}", flush=True)
        del net, x
        torch.cuda.empty_cache()
    start = time.time()
    # compiled modes, configuration by configuration: the given order is the priority order
    for model, batch, prec in configs:
        for mode in ("default", "reduce-overhead"):
            name = "compile" if mode == "default" else "reduce-overhead"
            if name not in modes:
                continue
            spent = time.time() - start
            if spent > a.compile_budget:
                print(f"PEER|{model}|{batch}|{prec.lower()}|{name}|skipped|compile budget {a.compile_budget:.0f}s spent", flush=True)
                continue
            try:
                torch._dynamo.reset()
                torch.manual_seed(0)
                net, x = build(model, int(batch), prec.lower())
                fn = torch.compile(net, mode=mode)
                t0 = time.time()
                with torch.inference_mode():
                    fn(*x)
                torch.cuda.synchronize()
                p50, p99 = time_it(fn, x)
                print(f"PEER|{model}|{batch}|{prec.lower()}|{name}|{p50:.4f}|{p99:.4f}|compile {time.time() - t0:.0f}s", flush=True)
                del fn, net, x
                torch.cuda.empty_cache()
            except Exception as e:  # one failing compile must not lose the other rows
                print(f"PEER|{model}|{batch}|{prec.lower()}|{name}|skipped|{type(e).__name__}: {str(e).splitlines()[0][:160]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
