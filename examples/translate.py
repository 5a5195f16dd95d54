"""English -> French translation on the Tatoeba pairs (``../shared/data/eng-fra/fra.txt``)
with ganglion's ``TransformerSeq2Seq`` or ``Seq2SeqGRU``, evaluated by sacrebleu corpus BLEU
with greedy and beam-search decoding on a held-out test split.

Data: pairs whose sides both have at most ``--max-words`` words after the loader's
normalization (lowercase, ``.!?`` split off, other punctuation and digits dropped; accents
kept). ``split(..., group_by_source=True)`` puts every translation of one English sentence in
the same split, so no test source sentence is seen in training. Byte-level BPE tokenizers
(``tokenizers``) are trained on the training split only, one per language.

BLEU: sacrebleu's default (13a tokenization, case-sensitive) on the normalized text, so
lowercase and without digits/commas/apostrophes. ``single-ref`` scores every test pair against
its own French sentence; ``multi-ref`` scores each distinct test source once against all its
translations in the file.

Run (training, then evaluation; checkpoint and tokenizers go to ``--out``). The reported runs
(75 wall-minutes each on a shared 2-core machine, 1 thread; Transformer 2,556 steps, 19 CPU-min:
test BLEU 35.6 greedy / 37.3 beam 5 single-ref; GRU-Luong 2,371 steps, 16 CPU-min: 22.1 / 25.8)::

    OPENBLAS_NUM_THREADS=1 python examples/translate.py --model transformer --size 256 2 512 \
        --dropout 0 --epochs 8 --time-budget 75 --lr 1e-3 --warmup 300 \
        --out runs/translate_transformer
    OPENBLAS_NUM_THREADS=1 python examples/translate.py --model gru-luong --size 256 256 1 \
        --epochs 8 --time-budget 75 --lr 2e-3 --warmup 300 --out runs/translate_gru_luong
    python examples/translate.py --out runs/translate_transformer --eval-only

``--time-budget`` stops on wall time, so on a busier or quieter machine the step count (logged,
and stored in the checkpoint) differs; pass ``--epochs 3`` without a budget for a fixed run.

Train-time knobs: ``--max-words``, ``--epochs``, ``--batch-size``, ``--lr``, ``--warmup``,
``--limit`` (use only the first N training pairs, for a quick try).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

import ganglion
import ganglion.nn.functional as F
from ganglion.data.text import Tokenizer, TranslationPairs
from ganglion.models.decoding import beam_search, greedy_search, strip_special
from ganglion.models.seq2seq import Seq2SeqGRU
from ganglion.models.transformer_seq2seq import TransformerSeq2Seq

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "eng-fra")
PAD, BOS, EOS = 0, 1, 2  # BPE_SPECIAL_TOKENS order: <pad> <s> </s> <unk> <mask>


def load_splits(data, max_words, seed=0, test_fraction=0.02):
    pairs = TranslationPairs(data, max_words=max_words, strip_accents=False)
    fr = (1.0 - 2 * test_fraction, test_fraction, test_fraction)
    train, valid, test = pairs.split(fr, seed=seed, group_by_source=True)
    get = lambda sub: [pairs.pairs[i] for i in sub.indices]  # noqa: E731
    return get(train), get(valid), get(test)


def train_tokenizers(train, src_vocab, tgt_vocab):
    src = Tokenizer.train_bpe([s for s, _ in train], vocab_size=src_vocab)
    tgt = Tokenizer.train_bpe([t for _, t in train], vocab_size=tgt_vocab)
    return src, tgt


def encode(tok, texts):
    """Rows of ids ``<s> ... </s>`` as one padded int64 array and the lengths."""
    enc = tok.encode_batch(texts, return_tensors="np")
    ids = enc["input_ids"].astype(np.int64)
    return ids, enc["attention_mask"].sum(1)


def batches(src_len, tgt_len, batch_size, rng):
    """Index batches of similar lengths (sorted with a random tie-break), in random order."""
    order = np.lexsort((rng.random(len(src_len)), tgt_len, src_len))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def take(ids, lengths, idx):
    """The batch ``idx`` cut to its longest row."""
    return ganglion.from_numpy(ids[idx, :int(lengths[idx].max())].copy())


def build_model(kind, src_vocab, tgt_vocab, size, dropout=0.1):
    if kind == "transformer":
        d, layers, ff = size
        return TransformerSeq2Seq(src_vocab, tgt_vocab, d_model=d, nhead=max(d // 64, 2),
                                  num_encoder_layers=layers, num_decoder_layers=layers,
                                  dim_feedforward=ff, dropout=dropout, pad_idx=PAD)
    d, hidden, layers = size
    return Seq2SeqGRU(src_vocab, tgt_vocab, embed_dim=d, hidden_size=hidden,
                      num_layers=layers, attention=kind.split("-")[1], dropout=dropout,
                      pad_idx=PAD)


def batch_loss(model, src, tgt, smoothing):
    logits = model(src, tgt[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                           ignore_index=PAD, label_smoothing=smoothing)


def lr_at(progress, step, peak, warmup):
    """Linear warmup to ``peak`` over ``warmup`` steps, then cosine decay to 5% of it as
    ``progress`` (the larger of the step and time fractions of the budget) goes to 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def translate(model, src_tok, tgt_tok, sources, beam_size=1, batch_size=128, alpha=0.6):
    """Translations of ``sources`` (batched by length, returned in the input order)."""
    ids, lengths = encode(src_tok, sources)
    order = np.argsort(lengths, kind="stable")
    out = [None] * len(sources)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        src = take(ids, lengths, idx)
        max_len = min(int(1.5 * src.shape[1]) + 5, getattr(model, "max_len", 256))
        if beam_size == 1:
            hyp = greedy_search(model, src, BOS, EOS, max_len=max_len)
        else:
            hyp = beam_search(model, src, BOS, EOS, beam_size=beam_size, max_len=max_len,
                              length_penalty=alpha)
        for j, text in zip(idx, tgt_tok.decode_batch(strip_special(hyp, EOS, PAD))):
            out[j] = text.strip()
    return out


def bleu(pairs, hyps):
    """Single-reference BLEU over the pairs and multi-reference BLEU over distinct sources."""
    import sacrebleu
    single = sacrebleu.corpus_bleu(hyps, [[t for _, t in pairs]])
    refs, first = {}, {}
    for (s, t), h in zip(pairs, hyps):
        refs.setdefault(s, []).append(t)
        first.setdefault(s, h)
    n = max(len(r) for r in refs.values())
    streams = [[r[k] if k < len(r) else None for r in refs.values()] for k in range(n)]
    multi = sacrebleu.corpus_bleu(list(first.values()), streams)
    return single.score, multi.score


def train(args, model, data, log):
    """Adam with warmup and cosine decay for ``--epochs`` or until ``--time-budget`` minutes
    of wall time, whichever comes first (the schedule follows the nearer of the two)."""
    (s_ids, s_len), (t_ids, t_len), valid = data
    rng = np.random.default_rng(args.seed)
    opt = ganglion.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    steps_per_epoch = math.ceil(len(s_len) / args.batch_size)
    total, step, t0 = args.epochs * steps_per_epoch, 0, time.perf_counter()
    budget = args.time_budget * 60 if args.time_budget else float("inf")
    for epoch in range(args.epochs):
        model.train()
        run_loss, seen = 0.0, 0
        for k, idx in enumerate(batches(s_len, t_len, args.batch_size, rng)):
            progress = max(step / total, (time.perf_counter() - t0) / budget)
            if progress >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(progress, step, args.lr, args.warmup)
            loss = batch_loss(model, take(s_ids, s_len, idx), take(t_ids, t_len, idx),
                              args.label_smoothing)
            opt.zero_grad()
            loss.backward()
            ganglion.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step, run_loss, seen = step + 1, run_loss + loss.item(), seen + 1
            if k % 100 == 0:
                log(f"epoch {epoch} step {k}/{steps_per_epoch} loss {run_loss / seen:.3f} "
                    f"lr {opt.param_groups[0]['lr']:.2e} "
                    f"{(time.perf_counter() - t0) / step:.3f} s/step (wall)")
            if step % 400 == 0:
                save(args, model, epoch, step, time.perf_counter() - t0)
        valid_loss = evaluate_loss(model, *valid)
        log(f"epoch {epoch} done: {step} steps, train loss {run_loss / max(seen, 1):.3f} "
            f"valid loss {valid_loss:.3f} time {(time.perf_counter() - t0) / 60:.1f} min "
            f"(cpu {time.process_time() / 60:.1f} min)")
        save(args, model, epoch + 1, step, time.perf_counter() - t0)
        if step / total >= 1.0 or time.perf_counter() - t0 >= budget:
            break
    return time.perf_counter() - t0, step


def evaluate_loss(model, src_data, tgt_data, batch_size=256):
    model.eval()
    (s_ids, s_len), (t_ids, t_len) = src_data, tgt_data
    total, count = 0.0, 0
    with ganglion.no_grad():
        for i in range(0, len(s_len), batch_size):
            idx = np.arange(i, min(i + batch_size, len(s_len)))
            n = int((t_len[idx] - 1).sum())
            loss = batch_loss(model, take(s_ids, s_len, idx), take(t_ids, t_len, idx), 0.0)
            total, count = total + loss.item() * n, count + n
    return total / count


def save(args, model, epoch, step, seconds):
    config = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str))}
    ganglion.io.save({"model": model.state_dict(), "config": config, "epoch": epoch,
                      "steps": step, "train_seconds": seconds, "cpu_seconds":
                      time.process_time()}, os.path.join(args.out, "model.safetensors"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DATA)
    p.add_argument("--out", default="runs/translate_transformer")
    p.add_argument("--model", default="transformer",
                   choices=["transformer", "gru-bahdanau", "gru-luong"])
    p.add_argument("--size", type=int, nargs=3, default=None,
                   help="transformer: d_model layers ff; gru: embed hidden layers")
    p.add_argument("--max-words", type=int, default=10)
    p.add_argument("--src-vocab", type=int, default=5000)
    p.add_argument("--tgt-vocab", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--length-penalty", type=float, default=0.6)
    p.add_argument("--time-budget", type=float, default=None,
                   help="stop training after this many wall-clock minutes")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-only", action="store_true")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "log.txt"), "a", encoding="utf-8")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    ckpt = os.path.join(args.out, "model.safetensors")
    if args.eval_only:  # the saved run's settings, except evaluation knobs given here
        saved = ganglion.io.load(ckpt)
        for key in ("model", "max_words", "src_vocab", "tgt_vocab", "seed", "limit", "dropout"):
            if key in saved["config"] or key == "limit":
                setattr(args, key, saved["config"].get(key))
        args.size = [int(v) for v in saved["config"]["size"].split()]
    if args.size is None:
        args.size = [256, 3, 1024] if args.model == "transformer" else [256, 512, 1]
    ganglion.manual_seed(args.seed)
    train_pairs, valid_pairs, test_pairs = load_splits(args.data, args.max_words, args.seed)
    if args.limit:
        train_pairs = train_pairs[:args.limit]
    log(f"pairs <= {args.max_words} words: train {len(train_pairs)} valid {len(valid_pairs)} "
        f"test {len(test_pairs)} (test sources {len({s for s, _ in test_pairs})})")
    tok_paths = [os.path.join(args.out, f"tokenizer_{side}.json") for side in ("eng", "fra")]
    if args.eval_only:
        src_tok, tgt_tok = (Tokenizer.load(path) for path in tok_paths)
    else:
        src_tok, tgt_tok = train_tokenizers(train_pairs, args.src_vocab, args.tgt_vocab)
        for tok, path in zip((src_tok, tgt_tok), tok_paths):
            tok.save(path)
    model = build_model(args.model, src_tok.vocab_size, tgt_tok.vocab_size, args.size,
                        args.dropout)
    log(f"{args.model} {args.size}: {sum(p.numel() for p in model.parameters()):,} "
        f"parameters; vocab eng {src_tok.vocab_size} fra {tgt_tok.vocab_size}")
    if args.eval_only:
        model.load_state_dict(saved["model"])
        seconds, steps = saved["train_seconds"], saved["steps"]
    else:
        args.size = " ".join(str(v) for v in args.size)  # the checkpoint config keeps scalars
        enc = lambda pairs: (encode(src_tok, [s for s, _ in pairs]),  # noqa: E731
                             encode(tgt_tok, [t for _, t in pairs]))
        seconds, steps = train(args, model, (*enc(train_pairs), enc(valid_pairs)), log)
    results = {"model": args.model, "size": args.size, "train_minutes": round(seconds / 60, 1),
               "steps": steps, "parameters": sum(p.numel() for p in model.parameters()),
               "split": [len(train_pairs), len(valid_pairs), len(test_pairs)]}
    sources = [s for s, _ in test_pairs]
    for name, k in (("greedy", 1), (f"beam{args.beam_size}", args.beam_size)):
        t0 = time.perf_counter()
        hyps = translate(model, src_tok, tgt_tok, sources, k, alpha=args.length_penalty)
        single, multi = bleu(test_pairs, hyps)
        results[name] = {"bleu_single_ref": round(single, 2), "bleu_multi_ref": round(multi, 2),
                         "seconds": round(time.perf_counter() - t0, 1)}
        log(f"test BLEU {name}: single-ref {single:.2f} multi-ref {multi:.2f} "
            f"({time.perf_counter() - t0:.0f} s)")
    for i in np.random.default_rng(1).choice(len(test_pairs), 10, replace=False):
        log(f"  EN  {test_pairs[i][0]}\n  REF {test_pairs[i][1]}\n  OUT {hyps[i]}")
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    log(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
