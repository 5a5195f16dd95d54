"""W5, a Transformer encoder language model: ganglion vs PyTorch eager in one process.

Embedding(8000, 256) -> TransformerEncoder (4 pre-LN layers, 4 heads, ff 1024, dropout 0.1,
causal mask, batch_first) -> Linear(256, 8000) -> cross-entropy, then an Adam step; sequence
128, batch 16, float32. Also the same model in eval mode under no_grad, one self-attention
block (nn.MultiheadAttention, train: forward + backward; eval: forward), and the fused causal
attention alone (forward + backward, and forward under no_grad).

Prints the median and the minimum ms per step for both libraries (their repeats interleaved,
so that load on a shared machine hits both alike) and the ratio of medians ganglion / torch
(lower is better).

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


def _attention_infer(lib, sdpa, arrays):
    q, k, v = (lib.from_numpy(a.copy()) for a in arrays)

    def step():
        with lib.no_grad():
            sdpa(q, k, v, is_causal=True)
    return step


def _infer(lib, enc_layer_cls, encoder_cls, tokens, mask_fn):
    model = _lm(lib, enc_layer_cls, encoder_cls)
    model.eval()
    idx, mask = lib.from_numpy(tokens[:, :-1].copy()), mask_fn(SEQ)

    def step():
        with lib.no_grad():
            model(idx, mask)
    return step


def _mha(lib, x, mask_fn, train):
    lib.manual_seed(0)
    mha = lib.nn.MultiheadAttention(D, HEADS, dropout=0.1, batch_first=True)
    mha.train(train)
    mask = mask_fn(SEQ)
    xt = lib.from_numpy(x.copy()).requires_grad_(train)

    def step():
        if train:
            mha(xt, xt, xt, attn_mask=mask, is_causal=True, need_weights=False)[0].sum().backward()
            return
        with lib.no_grad():
            mha(xt, xt, xt, attn_mask=mask, is_causal=True, need_weights=False)
    return step


def _interleaved_ms(fns, steps):
    """(median, min) ms of each function, their repeats interleaved."""
    for fn in fns:
        fn()  # warm up (lazy state, caches, compiled kernels)
    times = [[] for _ in fns]
    for _ in range(steps):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [(1e3 * statistics.median(ts), 1e3 * min(ts)) for ts in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ganglion.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, (BATCH, SEQ + 1)).astype(np.int64)
    qkv = [rng.standard_normal((BATCH, HEADS, SEQ, D // HEADS)).astype(np.float32)
           for _ in range(3)]
    x = rng.standard_normal((BATCH, SEQ, D)).astype(np.float32)
    libs = [(ganglion, TransformerEncoderLayer, TransformerEncoder,
             ganglion.nn.layers.transformer.Transformer.generate_square_subsequent_mask, g_sdpa)]
    if torch is not None:
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        libs.append((torch, torch.nn.TransformerEncoderLayer, torch.nn.TransformerEncoder,
                     torch.nn.Transformer.generate_square_subsequent_mask,
                     torch.nn.functional.scaled_dot_product_attention))
    cases = {
        "W5 train step": lambda lib, el, en, m, sd: _setup(lib, el, en, tokens, m),
        "W5 inference": lambda lib, el, en, m, sd: _infer(lib, el, en, tokens, m),
        "MHA train fwd+bwd": lambda lib, el, en, m, sd: _mha(lib, x, m, True),
        "MHA eval fwd": lambda lib, el, en, m, sd: _mha(lib, x, m, False),
        "attention fwd+bwd": lambda lib, el, en, m, sd: _attention_step(lib, sd, qkv),
        "attention fwd no_grad": lambda lib, el, en, m, sd: _attention_infer(lib, sd, qkv),
    }
    print(f"threads {args.threads}; ms per step, median (min)")
    print(f"{'case':24s} {'ganglion':>17s} {'torch':>17s} {'ratio':>7s}")
    for name, make in cases.items():
        res = _interleaved_ms([make(*lib) for lib in libs], args.steps)
        cells = " ".join(f"{med:9.2f} ({mn:6.2f})" for med, mn in res)
        ratio = f"{res[0][0] / res[1][0]:7.2f}" if len(res) == 2 else ""
        print(f"{name:24s} {cells} {ratio}")


if __name__ == "__main__":
    main()
