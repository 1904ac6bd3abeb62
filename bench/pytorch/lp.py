"""The LP workload's twins (train/experiments/lp.go, -problem fast, built in
bench/gobench/lp.go): random LPs of 10 constraints and 50 variables as
bipartite graphs, node embeddings (constraints [b, eq], variables [100·c,
0.1·l, 0.1·u], ReLU), then

* "explicit": four bipartite convolutions (v→c, c→v, v→c, c→v; width 16)
  and a per-variable readout (16 → 16 ReLU → 1);
* "implicit": the GNN cell of layers/graph (state y, one scalar per
  variable; the same four convolutions on [v, y], then a linear map to y')
  unrolled 6 times from y = 0 in training and iterated 8 times at
  inference, then a readout of [v, y] (17 → 16 ReLU → 1);

the output times 10, mean squared error against the optimum y*.

A convolution (graph.BipartiteConv without the destination MLP) is
m = W²ₘ·ReLU(W¹ₘ·[src] + b¹ₘ) + b²ₘ on every source node, agg_t = Σ_s A_ts m_s,
out = ReLU(W²ᵤ·ReLU(W¹ᵤ·[dst, agg] + b¹ᵤ) + b²ᵤ); a layer on several
parts (graph.PartsDense) keeps one weight block per part ("name.W0",
"name.W1", …), drawn as one Glorot-uniform matrix of the concatenated
fan-in; ReLU layers' biases start at 0.1, the others at 0.

The instances are the Go side's: the LP cache file that gobench wrote
(datasets.LoadLPs, seed 1, 3500 instances; the first 2500 train), read
here with its SHA-256 checked.
"""
import hashlib
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from twin import Batches, GoParams, zeros

M, N, NNZ, EMB = 10, 50, 100, 16
UNROLL, TEST_T = 6, 8
N_TRAIN = 2500
# datasets.lpCacheName for LPConfig{} (with its defaults), seed 1, 3500
# instances (2500 training and 1000 test, as the experiment splits them).
CACHE_NAME = "lp-v1-10x50-nnz100-peq0.3-c0.01-b10-seed1-n3500.bin"
HEADER = 8 + 4 + 3 * 8 + 3 * 8 + 8 + 8 + 6 * 8  # datasets.lpHeaderSize
VAR_SCALES = (100.0, 0.1, 0.1)  # c, l, u (b and eq unscaled)
OUT_SCALE = 10.0
RELU_BIAS = 0.1


def cache_dir():
    """datasets.CacheDir(""): $IMPLICIT_CACHE_DIR, else the user cache
    folder ($XDG_CACHE_HOME or ~/.cache) under "implicit"."""
    d = os.environ.get("IMPLICIT_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "implicit")


def load_lps(path):
    """The instances of a datasets LP cache file as (inputs, targets) in
    float32, laid out as datasets.LPLayout (A row-major, b, eq, c, l, u)."""
    if not os.path.exists(path):
        raise SystemExit(f"lp: {path} is missing: run `bin/gobench -workload lp` once to generate it")
    raw = open(path, "rb").read()
    if hashlib.sha256(raw[:-32]).digest() != raw[-32:]:
        raise SystemExit(f"lp: {path}: checksum mismatch")
    head = np.frombuffer(raw, dtype="<i8", count=3, offset=12)
    n = int(np.frombuffer(raw, dtype="<i8", count=1, offset=12 + 48 + 8)[0])
    if raw[:8] != b"impl-lp\n" or tuple(head) != (M, N, NNZ):
        raise SystemExit(f"lp: {path} is not a {M}×{N} LP cache of format 1")
    rec = np.dtype([("index", "<i8"), ("nz", [("r", "<u4"), ("c", "<u4"), ("v", "<f8")], (NNZ,)),
                    ("b", "<f8", (M,)), ("eq", "u1", (M,)), ("c", "<f8", (N,)), ("l", "<f8", (N,)),
                    ("u", "<f8", (N,)), ("y", "<f8", (N,)), ("obj", "<f8")])
    r = np.frombuffer(raw, dtype=rec, count=n, offset=HEADER)
    a = np.zeros((n, M, N))
    inst = np.arange(n)[:, None]
    a[inst, r["nz"]["r"].astype(np.int64), r["nz"]["c"].astype(np.int64)] = r["nz"]["v"]
    x = np.concatenate([a.reshape(n, M * N), r["b"], r["eq"].astype(np.float64), r["c"], r["l"], r["u"]], axis=1)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(r["y"].astype(np.float32))


def glorot_fans(fin, fout):
    """layers.GlorotUniform(1) for a matrix of fan-in fin, fan-out fout."""
    def init(t):
        a = math.sqrt(6 / (fin + fout))
        with torch.no_grad():
            t.uniform_(-a, a)
    return init


def relu_bias(t):
    with torch.no_grad():
        t.fill_(RELU_BIAS)


def parts_dense(ps, name, ins, out, relu):
    """graph.NewPartsDenseWith: one block "name.Wp" per part, drawn as one
    Glorot matrix of the concatenated fan-in; a ReLU layer's bias at 0.1."""
    for p, k in enumerate(ins):
        ps.add(f"{name}.W{p}", (k, out), glorot_fans(sum(ins), out))
    ps.add(name + ".b", (1, out), relu_bias if relu else zeros)


def dense(ps, name, n_in, n_out, relu):
    """layers.Dense with lpDenseInit: Glorot, a ReLU layer's bias at 0.1."""
    ps.add(name + ".W", (n_in, n_out), glorot_fans(n_in, n_out))
    ps.add(name + ".b", (1, n_out), relu_bias if relu else zeros)


def apply_parts(ps, name, xs, relu):
    y = ps[name + ".b"]
    for p, x in enumerate(xs):
        y = y + x @ ps[f"{name}.W{p}"]
    return torch.relu(y) if relu else y


def conv_params(ps, name, src, dst):
    parts_dense(ps, name + ".msg1", src, EMB, True)
    parts_dense(ps, name + ".msg2", [EMB], EMB, False)
    parts_dense(ps, name + ".upd1", dst + [EMB], EMB, True)
    parts_dense(ps, name + ".upd2", [EMB], EMB, True)


def conv(ps, name, to_cons, src, dst, a):
    """graph.BipartiteConv; a is (B, M, N), rows instance-major."""
    b = a.shape[0]
    h = apply_parts(ps, name + ".msg1", src, True)
    m = apply_parts(ps, name + ".msg2", [h], False).reshape(b, -1, EMB)
    agg = a @ m if to_cons else a.transpose(1, 2) @ m
    u = apply_parts(ps, name + ".upd1", dst + [agg.reshape(-1, EMB)], True)
    return apply_parts(ps, name + ".upd2", [u], True)


def four_convs(ps, prefix, v_parts, c, a):
    """conv1 … conv4 of graph.GNNCell (v_parts = [v, y]) or of the
    explicit body (v_parts = [v])."""
    h1 = conv(ps, prefix + "conv1", True, v_parts, [c], a)
    h2 = conv(ps, prefix + "conv2", False, [h1], v_parts, a)
    h3 = conv(ps, prefix + "conv3", True, [h2], [h1], a)
    return conv(ps, prefix + "conv4", False, [h3], [h2], a)


class LPNet(torch.nn.Module):
    def __init__(self, model, a, stats):
        super().__init__()
        self.params = ps = GoParams()
        self.model, self.fixed = model, 0
        dense(ps, "embed.cons", 2, EMB, True)
        dense(ps, "embed.vars", 3, EMB, True)
        e, ey = [EMB], [EMB, 1]
        if model == "explicit":
            for k, (src, dst) in enumerate([(e, e), (e, e), (e, e), (e, e)]):
                conv_params(ps, f"conv{k + 1}", src, dst)
            dense(ps, "read1", EMB, EMB, True)
        elif model == "implicit":
            for k, (src, dst) in enumerate([(ey, e), (e, ey), (e, e), (e, e)]):
                conv_params(ps, f"cell.conv{k + 1}", src, dst)
            parts_dense(ps, "cell.out", e, 1, False)
            parts_dense(ps, "read1", ey, EMB, True)
        else:
            raise SystemExit("lp: unknown model " + model + " (want explicit or implicit)")
        dense(ps, "read2", EMB, 1, False)

    def forward(self, x):
        p, b = self.params, x.shape[0]
        a = x[:, :M * N].reshape(b, M, N)
        cf = torch.stack([x[:, M * N + k * M: M * N + (k + 1) * M] for k in range(2)], dim=2).reshape(b * M, 2)
        off = M * N + 2 * M
        vf = torch.stack([x[:, off + k * N: off + (k + 1) * N] * s for k, s in enumerate(VAR_SCALES)], dim=2).reshape(b * N, 3)
        c = torch.relu(cf @ p["embed.cons.W"] + p["embed.cons.b"])
        v = torch.relu(vf @ p["embed.vars.W"] + p["embed.vars.b"])
        if self.model == "explicit":
            h = torch.relu(four_convs(p, "", [v], c, a) @ p["read1.W"] + p["read1.b"])
        else:
            y = torch.zeros(b * N, 1)
            for _ in range(UNROLL if self.training or not self.fixed else self.fixed):
                y = apply_parts(p, "cell.out", [four_convs(p, "cell.", [v, y], c, a)], False)
            h = apply_parts(p, "read1", [v, y], True)
        return (h @ p["read2.W"] + p["read2.b"]).reshape(b, N) * OUT_SCALE


class LPWorkload(Batches):
    """The first 2500 instances of the Go side's LP cache, in its order."""
    infer_batches = (25, 250)
    infer_iters = TEST_T
    train_batch, steps, infer_samples = 25, 200, 10000
    tol, max_iter = 0, 0  # no solve: the implicit model trains unrolled

    def __init__(self, a):
        x, y = load_lps(os.path.join(cache_dir(), CACHE_NAME))
        self.x, self.y = x[:N_TRAIN], y[:N_TRAIN]

    @staticmethod
    def loss(out, y):
        return F.mse_loss(out, y)

    @staticmethod
    def build(model, a, stats):
        return LPNet(model, a, stats)
