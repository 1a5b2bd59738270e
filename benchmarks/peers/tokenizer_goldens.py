#!/usr/bin/env python3
"""Writes small Hugging Face tokenizers and their golden encodings for Tessel's tokenizer (TokenizerGoldenTest).

Uses the `tokenizers` library only (no network, no downloads): each tokenizer is built and trained here on the embedded
CORPUS, saved as OUT/NAME.json, and every text of TEXTS is run through it; OUT/NAME.golden.json holds

    {"tokenizer": "NAME.json", "library": "tokenizers X.Y.Z", "description": "...",
     "cases": [{"text": T, "ids": encode(T).ids, "ids_no_special": encode(T, add_special_tokens=False).ids,
                "decode": decode(ids, skip_special_tokens=True), "decode_with_special": decode(ids, skip_special_tokens=False)}]}

The tokenizers:
  bert-uncased   WordPiece (trained, ~400 entries): BertNormalizer (lowercase, accents stripped), BertPreTokenizer,
                 BertProcessing ([CLS] x [SEP]), WordPiece decoder, max_input_chars_per_word 24
  bert-accents   the same with BertNormalizer(lowercase=True, strip_accents=False) and [MASK] lstrip
  t5-unigram     Unigram (trained, ~300 pieces): NFKC and runs of spaces to one, Metaspace (always, split),
                 TemplateProcessing "$A </s>", Metaspace decoder
  unigram-bytes  Unigram over the same pieces plus <0x00>..<0xFF> with byte_fallback, Metaspace (first, no split),
                 "<s> $A", a normalized added token "New York", Llama-style decoders (Replace, ByteFallback, Fuse, Strip)
  spm-precompiled  (only when the `sentencepiece` package is importable) a SentencePiece Unigram model trained with a
                 small custom normalization rule table, converted as transformers' SpmConverter does: Precompiled
                 charsmap + Replace(" {2,}", " "), Metaspace, "$A </s>"

Run: python3 benchmarks/peers/tokenizer_goldens.py --out runtime/src/test/resources/tokenizer
Then: mvn -o -q verify -pl runtime -am -Dtest=TokenizerGoldenTest (or -Dtessel.tokenizer.goldens=OUT for another folder).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog was not amused!
Hello, world! Hello again, world. Hello there; how are you today?
Unaffable people are rarely found in a friendly café, but it happens.
The résumé of the naïve student mentioned a façade, a crème brûlée and a piñata.
Ångström units measure tiny lengths; Zürich and São Paulo are cities.
Tokenizers split text into words, subwords and characters before the model sees them.
Don't, can't, won't: contractions are common in English text. I'm sure you're right, we've seen it.
Numbers such as 3.14159, 2,718 and 1e10 appear in scientific writing, as do 42 and 1234567890.
Call +1-555-0100 or write to the office at 221B Baker Street, London.
New York is a big city and New York has many people; new york in lower case too.
東京は日本の首都です。我爱自然语言处理。中文文本也很常见。
Привет, мир! Это пример текста на русском языке.
한국어 텍스트도 포함되어 있습니다.
مرحبا بالعالم
Supercalifragilisticexpialidocious is a long word, and so is pneumonoultramicroscopicsilicovolcanoconiosis.
Mixed CASE words, UPPER CASE WORDS and lower case words are all here.
Punctuation (parens), [brackets], {braces}, --- dashes ... ellipses!!! and questions???
Straße and STRASSE, Σίσυφος and ΣΊΣΥΦΟΣ, İstanbul and istanbul.
Fine flour, full width text, circled numbers and Roman numerals appear in Unicode.
Emoji like smiles and thumbs up are everywhere in chat messages today.
The model reads ids; the decoder turns ids back into text for people to read.
"""

TEXTS = [
    "",
    " ",
    "Hello, world!",
    "hello  world",
    "   leading and trailing   ",
    "Unaffable",
    "UNAFFABLE résumé",
    "Café naïve façade",
    "Crème brûlée and a piñata",
    "Ångström in Zürich",
    "İstanbul",
    "ΣΊΣΥΦΟΣ Σίσυφος",
    "Straße STRASSE",
    "東京は日本の首都です",
    "我爱自然语言处理",
    "한국어 텍스트",
    "Привет, мир!",
    "مرحبا بالعالم",
    "emoji 🙂👍🏽 and 🫠",
    "family 👨\u200d👩\u200d👧",
    "tabs\tand\nnewlines\r\nhere",
    "non\u00a0breaking\u2009thin\u3000ideographic",
    "zero\u200bwidth\ufeffjoiners",
    "control\u0001char\u007fdel\u0085nel",
    "replacement \ufffd char and \u0000 nul",
    "private \ue000\ue001 use",
    "don't can't won't I'm you're we've",
    "a.b,c;d:e!f?g",
    "(parens) [brackets] {braces}",
    "--- ... !!! ???",
    "3.14159 and 2,718 and 1e10",
    "phone: +1-555-0100",
    "1234567890123",
    "x" * 120,
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "\ufb01ne \ufb02our",
    "\u2460\u2461\u2462 \u216b\u2163",
    "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 \uff21\uff22\uff23 \uff11\uff12\uff13",
    "e\u0301 vs \u00e9",
    "[CLS] already [SEP] there [MASK] here",
    "<s> and </s> and <unk>",
    "New York is big, new york too",
    "mixed CASE Words",
    "The quick brown fox jumps over the lazy dog.",
    "qzxj vwkk",
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522 math",
    "trailing space ",
]

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def corpus_lines():
    return [line for line in CORPUS.splitlines() if line.strip()]


def bert(strip_accents):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=24))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=strip_accents, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # bert-accents adds [MASK] after training, absorbing the white space before it (lstrip), as fill-mask setups declare it
    specials = BERT_SPECIALS if strip_accents is None else BERT_SPECIALS[:-1]
    trainer = trainers.WordPieceTrainer(vocab_size=400, min_frequency=1, special_tokens=specials, continuing_subword_prefix="##", show_progress=False)
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    if strip_accents is not None:
        tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, special=True, normalized=False)])
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    return tok


def t5_unigram():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>", show_progress=False)
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    return tok


def unigram_bytes(trained):
    model = json.loads(trained.to_str())["model"]
    vocab = [(p, s) for p, s in model["vocab"]]
    vocab += [(f"<0x{b:02X}>", 0.0) for b in range(256)]
    vocab.append(("<s>", 0.0))
    tok = Tokenizer(models.Unigram(vocab, unk_id=model["unk_id"], byte_fallback=True))
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in ("<pad>", "</s>", "<unk>", "<s>")])
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.add_tokens([AddedToken("New York", special=False, normalized=True)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


# A small custom SentencePiece normalization table (source code points -> target code points, hex): full-width
# letters and digits to ASCII, the fi/fl ligatures, circled digits, and e + combining acute to é, so the compiled
# charsmap stays a few kilobytes (the stock nmt_nfkc table is ~240 KB).
def rule_table():
    rows = [(f"{0xFF21 + i:X}", f"{0x41 + i:X}") for i in range(26)] + [(f"{0xFF41 + i:X}", f"{0x61 + i:X}") for i in range(26)]
    rows += [(f"{0xFF10 + i:X}", f"{0x30 + i:X}") for i in range(10)]
    rows += [("FB01", "66 69"), ("FB02", "66 6C"), ("2460", "31"), ("2461", "32"), ("2462", "33"), ("65 301", "E9"), ("3000", "20")]
    return "".join(f"{a}\t{b}\n" for a, b in rows)


def spm_precompiled(workdir):
    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError as e:
        print(f"spm-precompiled: skipped ({e}); install sentencepiece to write it", file=sys.stderr)
        return None
    corpus = workdir / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    rules = workdir / "rules.tsv"
    rules.write_text(rule_table(), encoding="utf-8")
    prefix = workdir / "spm"
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=200, model_type="unigram",
                                   character_coverage=1.0, normalization_rule_tsv=str(rules), hard_vocab_limit=False,
                                   minloglevel=2)
    proto = pb.ModelProto()
    proto.ParseFromString((workdir / "spm.model").read_bytes())
    vocab = [(p.piece, p.score) for p in proto.pieces]
    unk_id = next(i for i, p in enumerate(proto.pieces) if p.type == 2)
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    tok.add_special_tokens([AddedToken(p.piece, special=True, normalized=False) for p in proto.pieces if p.type in (2, 3)])
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    eos = next(p.piece for p in proto.pieces if p.piece == "</s>")
    tok.post_processor = processors.TemplateProcessing(single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, tok.token_to_id(eos))])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    return tok


def write(out, name, tok, description):
    path = out / f"{name}.json"
    tok.save(str(path), pretty=False)
    tok = Tokenizer.from_file(str(path))  # goldens from the file as saved, as Tessel reads it
    cases = []
    for text in TEXTS:
        ids = tok.encode(text).ids
        cases.append({"text": text, "ids": ids, "ids_no_special": tok.encode(text, add_special_tokens=False).ids,
                      "decode": tok.decode(ids, skip_special_tokens=True), "decode_with_special": tok.decode(ids, skip_special_tokens=False)})
    golden = {"tokenizer": path.name, "library": f"tokenizers {tokenizers.__version__}", "description": description, "cases": cases}
    (out / f"{name}.golden.json").write_text(json.dumps(golden, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{name}: {tok.get_vocab_size()} ids, {len(cases)} cases, {path.stat().st_size + (out / f'{name}.golden.json').stat().st_size} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for NAME.json and NAME.golden.json")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out, "bert-uncased", bert(None), "WordPiece, BertNormalizer (lowercase, strip_accents null = follow lowercase), BertPreTokenizer, BertProcessing")
    write(args.out, "bert-accents", bert(False), "WordPiece, BertNormalizer (lowercase, strip_accents false), [MASK] lstrip, BertProcessing")
    t5 = t5_unigram()
    write(args.out, "t5-unigram", t5, "Unigram, NFKC + Replace, Metaspace always/split, $A </s>")
    write(args.out, "unigram-bytes", unigram_bytes(t5), "Unigram with byte_fallback, NFC, Metaspace first/no split, <s> $A, normalized added token")
    with tempfile.TemporaryDirectory() as d:
        spm_tok = spm_precompiled(Path(d))
        if spm_tok is not None:
            write(args.out, "spm-precompiled", spm_tok, "SentencePiece Unigram with a custom Precompiled charsmap, Metaspace, $A </s>")


if __name__ == "__main__":
    main()
