#!/usr/bin/env python3
"""Trains a small Llama target/draft pair on real text for Tessel's tokenizer, checkpoint and speculative-decoding checks
(the `lmpair` stage of scripts/gpu-bench.sh).

Text: the Python standard library's sources on this machine (sysconfig's stdlib path, *.py files in sorted order,
test suites and site-packages left out); every 10th file is held out. Tokenizer: byte-level BPE trained with
Hugging Face `tokenizers` (vocabulary --vocab, <|endoftext|> id 0 between files). Models: transformers'
LlamaForCausalLM, a target (~27 M parameters: width 512, 8 layers, 8 heads / 4 KV heads) and a draft (~3.5 M: width 256,
2 layers, 4 / 2 heads) sharing the tokenizer, trained from seed --seed with AdamW under bf16 autocast on next-token loss
over random 256-token windows, within a wall-clock budget (--budget seconds in all, tokenizer included; the target gets
60% of what is left after the tokenizer). The draft is distilled from the target (KL to its next-token distribution +
0.25 x the text's loss), half of each batch drawn from --generated of the target's greedy continuations of 32-token text
windows (sequence-level distillation: the draft learns the text the target writes, which is what it must predict when it
proposes). Writes OUT/target and OUT/draft (config.json, model.safetensors in f32,
tokenizer.json) and OUT/golden.json: held-out prompts, their ids from the HF tokenizer, and per model the greedy
continuation (--new tokens, fp32, full recompute each step, lowest id on ties), each step's top-2 logit margin, and the
first step's top-5 logits. The target is also exported as a decoder with past, OUT/target/decoder_with_past.onnx
(torch.onnx.export, opset 17, dynamic axes; transformers' I/O names: input_ids, attention_mask, position_ids,
past_key_values.N.key/value -> logits, present.N.key/value), for Tessel's OnnxDecoder; golden.json's "onnx" names it,
or "onnx_error" says why the export failed.
"""
import argparse
import inspect
import json
import math
import sysconfig
import time
import traceback
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
import transformers
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM

SIZES = {"target": dict(hidden_size=512, intermediate_size=1376, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4),
         "draft": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)}
SEQ, BATCH, POSITIONS = 256, 32, 512


def corpus(max_bytes):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.rglob("*.py") if not {"test", "tests", "site-packages", "idle_test"} & set(p.relative_to(stdlib).parts))
    train, held = [], []
    size = 0
    for i, p in enumerate(files):
        text = p.read_text(encoding="utf-8", errors="replace")
        (held if i % 10 == 9 else train).append(text)
        size += len(text)
        if size > max_bytes:
            break
    return train, held


def train_tokenizer(texts, vocab):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  min_frequency=2, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


@torch.no_grad()
def generated_pool(teacher, data, count, device, seed, prompt=32, batch=128):
    """Sequence-level distillation data: `count` windows of SEQ tokens, each a random `prompt`-token window of `data`
    followed by the teacher's greedy continuation (what the draft must predict when it proposes during decoding)."""
    gen = torch.Generator(device="cpu").manual_seed(seed + 7)
    out = []
    for chunk in range(0, count, batch):
        at = torch.randint(0, len(data) - prompt, (min(batch, count - chunk),), generator=gen)
        x = torch.stack([data[i:i + prompt] for i in at.tolist()]).to(device)
        y = teacher.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=SEQ - prompt, min_new_tokens=SEQ - prompt,
                             do_sample=False, pad_token_id=0, eos_token_id=None)
        out.append(y[:, :SEQ].cpu())
    return torch.cat(out)


def train(name, tok, data, seconds, seed, device, teacher=None, pool=None):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), max_position_embeddings=POSITIONS, rms_norm_eps=1e-5, rope_theta=10000.0,
                      tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, **SIZES[name])
    model = LlamaForCausalLM(cfg).to(device)
    base_lr = 1e-3 if name == "draft" else 6e-4
    opt = torch.optim.AdamW(model.parameters(), lr=base_lr, weight_decay=0.1, betas=(0.9, 0.95))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    start, step, loss = time.time(), 0, float("nan")
    model.train()
    while time.time() - start < seconds:
        frac = (time.time() - start) / seconds  # 50 warm-up steps, then cosine decay over the time budget
        for g in opt.param_groups:
            g["lr"] = base_lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * frac))
        at = torch.randint(0, len(data) - SEQ, (BATCH,), generator=gen)
        x = torch.stack([data[i:i + SEQ] for i in at.tolist()])
        if pool is not None:  # half of each batch the teacher's own greedy continuations
            x[BATCH // 2:] = pool[torch.randint(0, len(pool), (BATCH - BATCH // 2,), generator=gen)]
        x = x.to(device)
        with torch.autocast(device, dtype=torch.bfloat16):
            out = model(input_ids=x, labels=x)  # transformers shifts the labels itself
            loss_t = out.loss
            if teacher is not None:  # distillation: the teacher's next-token distribution at every position (KL), plus a little of the text's
                with torch.no_grad():
                    t = teacher(input_ids=x).logits.float().flatten(0, 1)
                kl = torch.nn.functional.kl_div(torch.log_softmax(out.logits.float().flatten(0, 1), -1), torch.log_softmax(t, -1),
                                                log_target=True, reduction="batchmean")
                loss_t = kl + 0.25 * out.loss
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        if step % 100 == 0:
            loss = out.loss.item()  # the text's cross-entropy, distilled or not
            print(f"{name}: step {step}, loss {loss:.3f}, {time.time() - start:.0f} s", flush=True)
    params = sum(p.numel() for p in model.parameters())
    how = ", distilled from the target (KL to its distribution + 0.25 x the text's loss)" if teacher is not None else ""
    if pool is not None:
        how += f", half of each batch from {len(pool)} of its greedy continuations"
    print(f"{name}: {params / 1e6:.2f} M parameters, {step} steps of {BATCH}x{SEQ} tokens in {time.time() - start:.0f} s{how}, last loss {loss:.3f}", flush=True)
    return model.float().eval(), step, params


@torch.no_grad()
def agreement(a, b, data, device, windows=64, fixed=None):
    """Teacher-forced top-1 agreement of models a and b on held-out token windows (fixed positions; or the rows of
    `fixed`, [n, SEQ]), and each one's cross-entropy there: the agreement is what a greedy speculative decoder's
    acceptance rate follows."""
    gen = torch.Generator(device="cpu").manual_seed(1)
    if fixed is None:
        at = torch.randint(0, len(data) - SEQ, (windows,), generator=gen)
        fixed = torch.stack([data[i:i + SEQ] for i in at.tolist()])
    windows = len(fixed)
    same, total, losses = 0, 0, [0.0, 0.0]
    for chunk in range(0, windows, 16):
        x = fixed[chunk:chunk + 16].to(device)
        la, lb = a(input_ids=x, labels=x), b(input_ids=x, labels=x)
        same += int((la.logits.argmax(-1) == lb.logits.argmax(-1)).sum())
        total += x.numel()
        losses[0] += float(la.loss) * x.shape[0]
        losses[1] += float(lb.loss) * x.shape[0]
    return same / total, losses[0] / windows, losses[1] / windows


@torch.no_grad()
def greedy(model, ids, new, device):
    x = torch.tensor([ids], device=device)
    out, margins, top = [], [], None
    for _ in range(new):
        logits = model(input_ids=x).logits[0, -1].float()
        v, i = torch.topk(logits, 5)
        if top is None:
            top = [[int(a), float(b)] for a, b in zip(i.tolist(), v.tolist())]
        margins.append(float(v[0] - v[1]))
        nxt = int(torch.argmax(logits))  # the first maximum: the lowest id on ties, as Tessel's greedy sampler
        out.append(nxt)
        x = torch.cat([x, torch.tensor([[nxt]], device=device)], dim=1)
    return out, margins, top


class WithPast(torch.nn.Module):
    """LlamaForCausalLM with its KV cache as tensors in and out. The 4-D additive mask is made here from slices of an index
    table cut by the inputs' lengths (key j visible to new token i when j <= past + i and attention_mask holds 1 at j), so
    the graph needs no Range or Trilu, and transformers takes a 4-D mask as given."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.register_buffer("index", torch.arange(4 * POSITIONS), persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, *past):
        n, total = input_ids.shape[1], attention_mask.shape[1]
        visible = (self.index[:total][None, :] <= self.index[total - n:total][:, None]).long() * attention_mask[:, None, None, :]
        mask = (1.0 - visible.float()) * -1e9
        cache = DynamicCache()
        for i in range(len(past) // 2):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, past_key_values=cache, use_cache=True,
                         cache_position=position_ids[0])
        kv = out.past_key_values
        kv = kv.to_legacy_cache() if hasattr(kv, "to_legacy_cache") else [(layer.keys, layer.values) for layer in kv.layers]
        return (out.logits, *[t for layer in kv for t in layer])


def export_with_past(folder, file):
    """The checkpoint in folder (eager attention, fp32, on the CPU) as a decoder-with-past ONNX file."""
    model = LlamaForCausalLM.from_pretrained(folder, attn_implementation="eager", torch_dtype=torch.float32).eval()
    c = model.config
    layers, kv_heads, head_dim = c.num_hidden_layers, c.num_key_value_heads, c.hidden_size // c.num_attention_heads
    past, new = 5, 3
    names = [f"past_key_values.{i}.{k}" for i in range(layers) for k in ("key", "value")]
    presents = [f"present.{i}.{k}" for i in range(layers) for k in ("key", "value")]
    args = (torch.randint(0, c.vocab_size, (1, new)), torch.ones(1, past + new, dtype=torch.long), torch.arange(past, past + new)[None, :],
            *[torch.randn(1, kv_heads, past, head_dim) for _ in names])
    axes = {"input_ids": {0: "batch", 1: "sequence_length"}, "position_ids": {0: "batch", 1: "sequence_length"},
            "attention_mask": {0: "batch", 1: "total_length"}, "logits": {0: "batch", 1: "sequence_length"}}
    axes.update({k: {0: "batch", 2: "past_sequence_length"} for k in names})
    axes.update({k: {0: "batch", 2: "total_length"} for k in presents})
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(WithPast(model), args, str(file), input_names=["input_ids", "attention_mask", "position_ids", *names],
                          output_names=["logits", *presents], dynamic_axes=axes, opset_version=17, do_constant_folding=True, **extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="lm-pair")
    ap.add_argument("--budget", type=float, default=150, help="wall-clock seconds for tokenizer and both models")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-bytes", type=int, default=20_000_000, help="characters of source text read at most")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--new", type=int, default=24, help="greedy tokens per prompt in golden.json")
    ap.add_argument("--no-distill", action="store_true", help="train the draft on the text alone, not distilled from the target")
    ap.add_argument("--generated", type=int, default=1024, help="the target's greedy continuations the draft is distilled on too (0: none)")
    args = ap.parse_args()
    t0 = time.time()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False  # golden logits in plain fp32
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_texts, held = corpus(args.max_bytes)
    tok = train_tokenizer(train_texts, args.vocab)
    eos = tok.token_to_id("<|endoftext|>")
    ids = []
    for enc in tok.encode_batch(train_texts):
        ids.extend(enc.ids + [eos])
    data = torch.tensor(ids, dtype=torch.long)
    print(f"text: {len(train_texts)} training files ({len(data):,} tokens), {len(held)} held out; tokenizer {tok.get_vocab_size()} ids in {time.time() - t0:.0f} s", flush=True)

    golden = {"seed": args.seed, "vocab": tok.get_vocab_size(), "new_tokens": args.new, "prompts": [], "models": {}}
    trained = {}
    # the target 60% of the time left, the draft the rest, distilled from the trained target (its steps pay the target's
    # forward too); should distillation fail, the draft learns from the text alone, and the output says so
    for name, share in (("target", 0.6), ("draft", 1.0)):
        seconds = max(5.0, share * (args.budget - (time.time() - t0)))
        teacher = trained.get("target") if name == "draft" and not args.no_distill else None
        pool = None
        try:
            if teacher is not None and args.generated > 0:
                g0 = time.time()
                pool = generated_pool(teacher, data, args.generated, device, args.seed)
                print(f"draft: {len(pool)} greedy continuations of the target ({SEQ - 32} tokens after 32 of text) in {time.time() - g0:.0f} s", flush=True)
                seconds = max(5.0, args.budget - (time.time() - t0))
            model, steps, params = train(name, tok, data, seconds, args.seed, device, teacher, pool)
        except Exception:
            if teacher is None:
                raise
            traceback.print_exc()
            print("draft: distillation failed (above); trained on the text alone", flush=True)
            teacher = None
            model, steps, params = train(name, tok, data, max(5.0, args.budget - (time.time() - t0)), args.seed, device)
        model.save_pretrained(out / name, safe_serialization=True)
        tok.save(str(out / name / "tokenizer.json"))
        trained[name] = model
        golden["models"][name] = {"parameters": params, "steps": steps, "config": SIZES[name], "distilled": teacher is not None,
                                  "generated": 0 if pool is None or teacher is None else len(pool)}
    try:  # a measurement only: its failure is printed and leaves the pair and golden.json as they are
        held_ids = []
        for enc in tok.encode_batch(held):
            held_ids.extend(enc.ids + [eos])
        held_data = torch.tensor(held_ids, dtype=torch.long)
        agree, ce_t, ce_d = agreement(trained["target"], trained["draft"], held_data, device)
        golden["held_out"] = {"tokens": len(held_data), "top1_agreement": agree, "target_loss": ce_t, "draft_loss": ce_d}
        print(f"held out ({len(held_data):,} tokens, 64 windows of {SEQ}): target loss {ce_t:.3f}, draft loss {ce_d:.3f}, "
              f"draft's top-1 equal to the target's at {100 * agree:.1f}% of positions (teacher-forced)", flush=True)
        # on the target's own continuations of held-out prompts: what a greedy speculative decoder's proposals meet
        cont = generated_pool(trained["target"], held_data, 64, device, args.seed + 1)
        agree_g, _, _ = agreement(trained["target"], trained["draft"], None, device, fixed=cont)
        golden["held_out"]["top1_agreement_generated"] = agree_g
        print(f"on the target's greedy continuations of held-out prompts: draft's top-1 equal to the target's at {100 * agree_g:.1f}% of positions", flush=True)
    except Exception:
        traceback.print_exc()

    # prompts: the first 3 to 8 lines (at most 300 characters) of held-out files spread over the list
    for k in range(args.prompts):
        text = held[(k * len(held)) // args.prompts]
        lines = text.splitlines(keepends=True)[: 3 + k]
        prompt = "".join(lines)[:300]
        p = {"text": prompt, "ids": tok.encode(prompt).ids, "models": {}}
        for name, model in trained.items():
            g, m, top = greedy(model, p["ids"], args.new, device)
            p["models"][name] = {"greedy": g, "margins": m, "top5": top}
        golden["prompts"].append(p)
    onnx = out / "target" / "decoder_with_past.onnx"
    try:
        export_with_past(out / "target", onnx)
        golden["onnx"] = {"target": "target/decoder_with_past.onnx", "opset": 17, "torch": torch.__version__, "transformers": transformers.__version__}
        print(f"exported {onnx} ({onnx.stat().st_size / 1e6:.1f} MB)", flush=True)
    except Exception as e:  # recorded for LmPairGoldenTest, which fails naming it
        traceback.print_exc()
        golden["onnx_error"] = f"{type(e).__name__}: {e}"[:1000]
    (out / "golden.json").write_text(json.dumps(golden, indent=1))
    agree = [sum(a == b for a, b in zip(p["models"]["target"]["greedy"], p["models"]["draft"]["greedy"])) for p in golden["prompts"]]
    print(f"wrote {out}/target, {out}/draft, {out}/golden.json in {time.time() - t0:.0f} s; draft's greedy tokens equal to the target's: {agree} of {args.new}")


if __name__ == "__main__":
    main()
