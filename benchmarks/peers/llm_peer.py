#!/usr/bin/env python3
"""PyTorch peer of Tessel's LlmDecodeBench (the `llm` stage of scripts/gpu-bench.sh).

transformers' LlamaForCausalLM built from a config with the zoo's llama-1b sizes (TinyLlama-1.1B's shape:
vocab 32000, 2048 positions, hidden 2048, 22 layers, 32 heads sharing 4 KV heads, SwiGLU MLP 5632, RMSNorm
eps 1e-5, RoPE theta 10000, untied head), random weights, fp16 on the GPU, batch 1; greedy generation of
--new tokens after a prompt of --prompt random tokens with a static KV cache and the forward compiled by
torch.compile(mode="reduce-overhead") (CUDA graphs), transformers' recommended fast path. Two untimed
generations compile and warm up; then the decode rate comes from two timed generations: --new tokens and
1 token (the prefill and first token), decode tokens/s = (new - 1) / (t_new - t_1), each the median of 3.
If that fails or exceeds --compile-budget seconds, the forward compiled without CUDA graphs (mode "default")
is tried, then the eager static-cache generation is timed; the mode says which ran. --modes picks the compile modes
to try: on 2026-12-06 and 2026-12-07 (H100, torch 2.11) the reduce-overhead path crashed the process (segmentation
fault) during its warm-up generations, so the GPU script's llm stage runs each mode in a process of its own
(reduce-overhead, then default, then none) and takes the first that prints its line.

Prints: PEER-LLM|torch|llama-1b|fp16|1|PROMPT|NEW|MODE|tokens_per_s|ms_per_token (or ...|MODE|skipped|reason).
"""
import argparse
import statistics
import sys
import time

import torch


def build(args):
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                      num_key_value_heads=4, max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.float16).eval()
    return model


def generate(model, ids, n):
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, cache_implementation="static", pad_token_id=0)
    torch.cuda.synchronize()
    return out


def timed(model, ids, n):
    ts = []
    for _ in range(3):
        torch.cuda.synchronize()
        t = time.perf_counter()
        generate(model, ids, n)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--compile-budget", type=float, default=150)
    p.add_argument("--modes", default="reduce-overhead,default",
                   help="torch.compile modes to try in order before eager (comma-separated; 'none' for eager only)")
    args = p.parse_args()
    head = f"PEER-LLM|torch|llama-1b|fp16|1|{args.prompt}|{args.new}"
    if not torch.cuda.is_available():
        print(f"{head}|none|skipped|no CUDA GPU")
        return 2
    model = build(args)
    g = torch.Generator(device="cpu").manual_seed(14)
    ids = torch.randint(0, 32000, (1, args.prompt), generator=g).cuda()
    # transformers' fast path: the forward compiled with CUDA graphs. Each call starts a new CUDA-graph step (without it,
    # generate's cache update read an output a later replay had overwritten: "accessing tensor output of CUDAGraphs that
    # has been overwritten", H100, 2026-12-06); then the forward compiled without CUDA graphs; then eager.
    t0 = time.perf_counter()
    mode = None
    modes = [m for m in args.modes.split(",") if m and m != "none"]
    for m in modes:
        if m not in ("reduce-overhead", "default", "max-autotune-no-cudagraphs"):
            p.error(f"--modes: unknown torch.compile mode '{m}' (reduce-overhead, default, max-autotune-no-cudagraphs, none)")
    for compile_mode in modes:
        try:
            model = build(args)
            compiled = torch.compile(model.forward, mode=compile_mode, fullgraph=True)
            if compile_mode == "reduce-overhead":
                def forward(*a, _c=compiled, **k):
                    torch.compiler.cudagraph_mark_step_begin()
                    return _c(*a, **k)
                model.forward = forward
            else:
                model.forward = compiled
            for _ in range(2):
                generate(model, ids, args.new)
                if time.perf_counter() - t0 > args.compile_budget:
                    raise TimeoutError(f"compiling took over {args.compile_budget:.0f} s")
            mode = f"static+compile({compile_mode})"
            break
        except Exception as e:  # the next mode, and say so
            print(f"compile ({compile_mode}) failed or too slow: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
            if time.perf_counter() - t0 > args.compile_budget:
                break
    if mode is None:  # eager with the static cache, and say so
        model = build(args)
        mode = "static+eager"
        generate(model, ids, args.new)
    print(f"warm-up and compile: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    t_new, t_one = timed(model, ids, args.new), timed(model, ids, 1)
    per_token = (t_new - t_one) / (args.new - 1)
    print(f"{head}|{mode}|{1 / per_token:.1f}|{per_token * 1e3:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
