#!/usr/bin/env python3
"""Contiguous-KV peer of Tessel's PagedAttentionBench (the `llm` stage of scripts/gpu-bench.sh, or its own call).

One decode step's attention (one query token a sequence) over a contiguous f16 KV cache with PyTorch's
scaled_dot_product_attention, at PagedAttentionBench's shapes: 32 query heads sharing 8 KV heads, head size 64, batch
1, 8, 64 and contexts 512, 4096, 16384 (every sequence that long). q is [B, 32, 1, 64], K and V [B, 8, ctx, 64]; grouped
heads go to SDPA as they are (enable_gqa=True) on the flash or memory-efficient kernel, else (if neither takes them) K
and V are expanded to 32 heads first, outside the timing, and the line says so (that reads 4x the bytes). Timing as
the Java bench's: a CUDA graph of 20 steps rotating over disjoint K/V sets (as many as keep the rotation past L2,
at most 20), 3 warm-up replays, the median of 20 replays by CUDA events, per step.

Prints: PEER-ATTN|torch|BATCH|CONTEXT|us_per_step|GB/s|backend
"""
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

HEADS, KV_HEADS, HEAD_DIM, STEPS, REPLAYS = 32, 8, 64, 20, 20
L2_BYTES = 50 << 20


def one(batch, context):
    kv_bytes = batch * context * KV_HEADS * HEAD_DIM * 2 * 2
    sets = max(1, min(STEPS, -(-4 * L2_BYTES // kv_bytes)))
    q = torch.randn(batch, HEADS, 1, HEAD_DIM, device="cuda", dtype=torch.float16)
    ks = [torch.randn(batch, KV_HEADS, context, HEAD_DIM, device="cuda", dtype=torch.float16) for _ in range(sets)]
    vs = [torch.randn(batch, KV_HEADS, context, HEAD_DIM, device="cuda", dtype=torch.float16) for _ in range(sets)]
    backend = None
    for name, b in (("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
        try:
            with sdpa_kernel([b]):
                F.scaled_dot_product_attention(q, ks[0], vs[0], enable_gqa=True)
            backend = (name, b, True)
            break
        except RuntimeError:
            continue
    if backend is None:  # expand the grouped heads (4x the K/V bytes), the fastest kernel SDPA then picks
        ks = [k.repeat_interleave(HEADS // KV_HEADS, dim=1) for k in ks]
        vs = [v.repeat_interleave(HEADS // KV_HEADS, dim=1) for v in vs]
        backend = ("expanded heads, SDPA's choice", None, False)
    name, b, gqa = backend

    def step(i):
        if b is None:
            return F.scaled_dot_product_attention(q, ks[i % sets], vs[i % sets])
        with sdpa_kernel([b]):
            return F.scaled_dot_product_attention(q, ks[i % sets], vs[i % sets], enable_gqa=gqa)

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for i in range(3):
            step(i)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(STEPS):
            step(i)
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPLAYS):
        a, z = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        z.record()
        z.synchronize()
        times.append(a.elapsed_time(z) * 1000 / STEPS)
    us = statistics.median(times)
    del ks, vs, g
    torch.cuda.empty_cache()
    return us, kv_bytes / us / 1e3, name


def main():
    print(f"PEER-ATTN-INFO|torch {torch.__version__}|{torch.cuda.get_device_name()}", file=sys.stderr)
    for batch in (1, 8, 64):
        for context in (512, 4096, 16384):
            try:
                us, gbs, name = one(batch, context)
                print(f"PEER-ATTN|torch|{batch}|{context}|{us:.2f}|{gbs:.0f}|{name}", flush=True)
            except Exception as e:  # noqa: BLE001 - a shape the peer cannot run is reported, not fatal
                print(f"PEER-ATTN|torch|{batch}|{context}|-|-|failed: {str(e)[:160]}", flush=True)


if __name__ == "__main__":
    main()
