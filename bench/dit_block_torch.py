#!/usr/bin/env python3
"""One Wan2.1 DiT block forward over one chunk in PyTorch on the CPU: the anchor for
bench_dit (docs/PERFORMANCE.md). Same shapes, f32 weights and activations, the same thread
count; self-attention over a KV cache of `context` positions (the chunk's own keys written
into it first), cross-attention over the text's keys and values. PyTorch is not a dependency
of xpubench: install it beside (`pip install torch`) to run this.

    python3 bench/dit_block_torch.py --preset wan2.1-1.3b --chunk 0 --threads 2 --reps 3

Prints the median seconds of `reps` forwards and GFLOP/s at the FLOPs bench_dit reports for
the same block (give them with --gflop to get the rate)."""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

PRESETS = {  # dim, heads, ffn, text tokens, tokens per frame, frames per chunk, window frames
    "wan2.1-1.3b": (1536, 12, 8960, 512, 1560, 3, 21),
    "dit-small": (256, 4, 1024, 32, 48, 3, 6),
}


def rope(x, pos, heads, hd, theta=10000.0):
    """Rotation of adjacent pairs by pos * theta^(-2i/hd), as the catalogue's rope op."""
    t = x.shape[0]
    freq = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = pos.to(torch.float64)[:, None] * freq[None, :]
    c, s = torch.cos(ang).float(), torch.sin(ang).float()
    xr = x.view(t, heads, hd // 2, 2)
    a, b = xr[..., 0], xr[..., 1]
    return torch.stack((a * c[:, None] - b * s[:, None], a * s[:, None] + b * c[:, None]), -1).view(t, heads * hd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="dit-small", choices=sorted(PRESETS))
    ap.add_argument("--chunk", type=int, default=0, help="the chunk's index in the stream (sets the context)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--gflop", type=float, default=0, help="the block's GFLOP (bench_dit's counter)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dim, heads, ffn, text, per_frame, fpc, window = PRESETS[a.preset]
    hd, T = dim // heads, per_frame * fpc
    ctx_max = per_frame * window
    context = min(ctx_max, (a.chunk + 1) * T)
    lin = lambda i, o: torch.nn.Linear(i, o)
    q, k, v, o = lin(dim, dim), lin(dim, dim), lin(dim, dim), lin(dim, dim)
    cq, co = lin(dim, dim), lin(dim, dim)
    f1, f2 = lin(dim, ffn), lin(ffn, dim)
    nq, nk, ncq = torch.nn.RMSNorm(dim, eps=1e-6), torch.nn.RMSNorm(dim, eps=1e-6), torch.nn.RMSNorm(dim, eps=1e-6)
    norm3 = torch.nn.LayerNorm(dim, eps=1e-6)
    e = torch.randn(6, dim) * 0.1
    x = torch.randn(T, dim)
    text_k, text_v = torch.randn(text, dim), torch.randn(text, dim)
    k_cache, v_cache = torch.zeros(ctx_max, dim), torch.zeros(ctx_max, dim)
    pos = torch.arange(a.chunk * T, (a.chunk + 1) * T)

    def heads_of(t):
        return t.view(1, -1, heads, hd).transpose(1, 2)

    def block(x):
        h = F.layer_norm(x, (dim,), eps=1e-6) * (1 + e[1]) + e[0]
        qq = rope(nq(q(h)), pos, heads, hd)
        kk = rope(nk(k(h)), pos, heads, hd)
        slots = pos % ctx_max
        k_cache[slots] = kk
        v_cache[slots] = v(h)
        first = max(0, (a.chunk + 1) * T - ctx_max)
        keep = (torch.arange(first, (a.chunk + 1) * T)) % ctx_max
        att = F.scaled_dot_product_attention(heads_of(qq), heads_of(k_cache[keep]), heads_of(v_cache[keep]))
        x = x + e[2] * o(att.transpose(1, 2).reshape(T, dim))
        hc = ncq(cq(norm3(x)))
        att = F.scaled_dot_product_attention(heads_of(hc), heads_of(text_k), heads_of(text_v))
        x = x + co(att.transpose(1, 2).reshape(T, dim))
        h = F.layer_norm(x, (dim,), eps=1e-6) * (1 + e[4]) + e[3]
        return x + e[5] * f2(F.gelu(f1(h), approximate="tanh"))

    with torch.inference_mode():
        block(x)  # warm-up
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            block(x)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    rate = f" {a.gflop / med:.1f} GFLOP/s" if a.gflop else ""
    print(f"torch {torch.__version__} {a.preset} chunk {a.chunk} (context {context}) threads {a.threads}: "
          f"median {med:.4f} s of {a.reps}{rate}")


if __name__ == "__main__":
    main()
