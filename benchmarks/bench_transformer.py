"""W5, a Transformer encoder language model: ganglion vs PyTorch eager in one process.

Embedding(8000, 256) -> TransformerEncoder (4 pre-LN layers, 4 heads, ff 1024, dropout 0.1,
causal mask, batch_first) -> Linear(256, 8000) -> cross-entropy, then an Adam step; sequence
128, batch 16, float32. Also times the fused attention alone (forward + backward).

Prints median ms per step for both libraries and the ratio ganglion / torch (lower is better).

Run: python benchmarks/bench_transformer.py [--steps 10] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ganglion
from ganglion.nn.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from ganglion.ops.attention import scaled_dot_product_attention as g_sdpa

try:
    import torch
except ImportError:  # the benchmark still reports ganglion's own figures
    torch = None

VOCAB, D, HEADS, FF, LAYERS, SEQ, BATCH = 8000, 256, 4, 1024, 4, 128, 16


def _median_ms(fn, steps):
    fn()  # warm up (lazy state, caches)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _lm(lib, enc_layer_cls, encoder_cls):
    nn = lib.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(VOCAB, D)
            layer = enc_layer_cls(D, HEADS, FF, dropout=0.1, batch_first=True, norm_first=True)
            self.encoder = encoder_cls(layer, LAYERS, enable_nested_tensor=False)
            self.head = nn.Linear(D, VOCAB)

        def forward(self, idx, mask):
            return self.head(self.encoder(self.emb(idx), mask=mask, is_causal=True))

    return LM()


def _w5_step(lib, model, opt, idx, tgt, mask):
    def step():
        logits = model(idx, mask)
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def _setup(lib, enc_layer_cls, encoder_cls, tokens, mask_fn):
    model = _lm(lib, enc_layer_cls, encoder_cls)
    model.train()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    idx = lib.from_numpy(tokens[:, :-1].copy())
    tgt = lib.from_numpy(tokens[:, 1:].copy())
    return _w5_step(lib, model, opt, idx, tgt, mask_fn(SEQ))


def _attention_step(lib, sdpa, arrays):
    q, k, v = (lib.from_numpy(a.copy()).requires_grad_() for a in arrays)

    def step():
        sdpa(q, k, v, is_causal=True).sum().backward()
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, (BATCH, SEQ + 1)).astype(np.int64)
    qkv = [rng.standard_normal((BATCH, HEADS, SEQ, D // HEADS)).astype(np.float32)
           for _ in range(3)]
    gen_mask = ganglion.nn.layers.transformer.Transformer.generate_square_subsequent_mask
    rows = {"W5 train step (ms)": [_setup(ganglion, TransformerEncoderLayer, TransformerEncoder,
                                          tokens, gen_mask)],
            "attention fwd+bwd (ms)": [_attention_step(ganglion, g_sdpa, qkv)]}
    if torch is not None:
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        rows["W5 train step (ms)"].append(_setup(
            torch, torch.nn.TransformerEncoderLayer, torch.nn.TransformerEncoder, tokens,
            torch.nn.Transformer.generate_square_subsequent_mask))
        rows["attention fwd+bwd (ms)"].append(_attention_step(
            torch, torch.nn.functional.scaled_dot_product_attention, qkv))
    print(f"{'case':28s} {'ganglion':>10s} {'torch':>10s} {'ratio':>7s}")
    for name, fns in rows.items():
        times = [_median_ms(fn, args.steps) for fn in fns]
        if len(times) == 2:
            print(f"{name:28s} {times[0]:10.2f} {times[1]:10.2f} {times[0] / times[1]:7.2f}")
        else:
            print(f"{name:28s} {times[0]:10.2f}")


if __name__ == "__main__":
    main()
