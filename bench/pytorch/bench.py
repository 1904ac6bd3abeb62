#!/usr/bin/env python3
"""PyTorch reference for `make bench-compare`.

Trains and evaluates the models of `go run ./cmd/train -experiment classify`
(explicit MLP, implicit DEQ, unrolled twin) on MNIST and prints one JSON
object with throughputs and iteration counts. Self-contained: numpy and
torch only, MNIST read from the IDX files the Go side uses.

PyTorch's best settings on this machine are applied and reported:
torch.set_num_threads(--threads), torch.set_flush_denormal(True), and the
environment the orchestrator sets (OMP_WAIT_POLICY=PASSIVE,
OMP_NUM_THREADS); OPENBLAS_CORETYPE is left as the machine sets it.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load_mnist(d, n):
    x = load_idx(os.path.join(d, "train-images-idx3-ubyte.gz"))[:n].reshape(n, -1).astype(np.float32) / 255
    y = load_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"))[:n].astype(np.int64)
    x = (x - x.mean()) / x.std()
    return torch.from_numpy(x), torch.from_numpy(y)


class Stats:
    def __init__(self):
        self.fwd_calls = self.fwd_iters = self.bwd_calls = self.bwd_iters = 0


def anderson(f, z0, m=5, tol=1e-4, max_iter=50, ridge=1e-8, stats=None):
    """Per-sample Anderson (type II, mixing 1), relative residual stopping,
    the same rule and memory as deq.Anderson{} with Stop{Tol: tol}."""
    bsz, d = z0.shape
    X = torch.zeros(bsz, m, d, dtype=z0.dtype)
    G = torch.zeros(bsz, m, d, dtype=z0.dtype)
    z = z0
    best = z0.clone()
    best_res = torch.full((bsz,), float("inf"), dtype=z0.dtype)
    live = torch.ones(bsz, dtype=torch.bool)
    k = 0
    for k in range(max_iter):
        fz = f(z)
        g = fz - z
        res = g.norm(dim=1) / fz.norm(dim=1).clamp_min(1e-30)
        improved = live & (g.norm(dim=1) < best_res)
        best[improved] = z[improved]
        best_res = torch.where(improved, g.norm(dim=1), best_res)
        live = live & (res > tol)
        if not live.any():
            break
        slot = k % m
        X[:, slot] = z
        G[:, slot] = g
        n = min(k + 1, m)
        # The small systems in float64 with a ridge relative to their
        # scale, as deq.Anderson does; a singular one falls back to the
        # plain step.
        Gn = G[:, :n].double()
        H = torch.bmm(Gn, Gn.transpose(1, 2))
        scale = H.diagonal(dim1=1, dim2=2).amax(dim=1).clamp_min(1e-30)
        H = H / scale[:, None, None] + ridge * torch.eye(n, dtype=torch.float64)[None]
        y, info = torch.linalg.solve_ex(H, torch.ones(bsz, n, 1, dtype=torch.float64))
        y = y[..., 0]
        alpha = y / y.sum(dim=1, keepdim=True)
        bad = (info != 0) | ~torch.isfinite(alpha).all(dim=1)
        if bad.any():
            alpha[bad] = 0
            alpha[bad, slot] = 1
        znew = torch.bmm(alpha[:, None].to(z0.dtype), X[:, :n] + G[:, :n])[:, 0]
        z = torch.where(live[:, None], znew, z)
    if stats is not None:
        stats.fwd_calls += 1
        stats.fwd_iters += k + 1
    return best


class DEQ(torch.nn.Module):
    """784 → implicit 128 → 10: z* = tanh(z*W + xU + b), Anderson forward,
    IFT backward solving u = g + J^T u by fixed-point iteration with
    autograd VJPs (the hook formulation of the DEQ tutorial)."""

    def __init__(self, hidden, tol, max_iter, fixed_iters=0):
        super().__init__()
        self.inject = torch.nn.Linear(784, hidden, bias=False)
        self.W = torch.nn.Linear(hidden, hidden)
        self.head = torch.nn.Linear(hidden, 10)
        torch.nn.init.uniform_(self.W.weight, -0.25 * (6 / (2 * hidden)) ** 0.5, 0.25 * (6 / (2 * hidden)) ** 0.5)
        torch.nn.init.zeros_(self.W.bias)
        self.tol, self.max_iter, self.fixed = tol, max_iter, fixed_iters
        self.stats = Stats()

    def f(self, z, inj):
        return torch.tanh(self.W(z) + inj)

    def forward(self, x):
        inj = self.inject(x)
        if self.fixed:
            with torch.no_grad():
                z = torch.zeros_like(inj)
                for _ in range(self.fixed - 1):
                    z = self.f(z, inj)
            return self.head(self.f(z, inj))
        with torch.no_grad():
            z = anderson(lambda z: self.f(z, inj), torch.zeros_like(inj), tol=self.tol, max_iter=self.max_iter, stats=self.stats)
        z = self.f(z, inj)
        if self.training:
            z0 = z.clone().detach().requires_grad_()
            f0 = self.f(z0, inj)
            stats, tol, max_iter = self.stats, self.tol, self.max_iter

            def hook(grad):
                u = grad
                it = 0
                for it in range(max_iter):
                    u_new = torch.autograd.grad(f0, z0, u, retain_graph=True)[0] + grad
                    r = (u_new - u).norm(dim=1) / u_new.norm(dim=1).clamp_min(1e-30)
                    u = u_new
                    if (r <= tol).all():
                        break
                stats.bwd_calls += 1
                stats.bwd_iters += it + 1
                return u

            z.register_hook(hook)
        return self.head(z)


class Unrolled(torch.nn.Module):
    def __init__(self, hidden, k):
        super().__init__()
        self.inject = torch.nn.Linear(784, hidden, bias=False)
        self.W = torch.nn.Linear(hidden, hidden)
        self.head = torch.nn.Linear(hidden, 10)
        self.k = k

    def forward(self, x):
        inj = self.inject(x)
        z = torch.zeros_like(inj)
        for _ in range(self.k):
            z = torch.tanh(self.W(z) + inj)
        return self.head(z)


def mlp(hidden):
    return torch.nn.Sequential(
        torch.nn.Linear(784, hidden), torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
        torch.nn.Linear(hidden, 10))


def build(name, a):
    if name == "mlp":
        return mlp(a.hidden)
    if name == "deq":
        return DEQ(a.hidden, a.tol, a.max_iter)
    if name == "unrolled":
        return Unrolled(a.hidden, a.unroll)
    raise SystemExit("unknown model " + name)


def openblas_kernel():
    """The CPU kernel OpenBLAS selected (what OPENBLAS_CORETYPE would set)."""
    import ctypes
    for line in open("/proc/self/maps"):
        if "openblas" in line and line.strip().endswith(".so") or "libopenblas" in line:
            path = line.split()[-1]
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                return lib.openblas_get_corename().decode()
            except (OSError, AttributeError):
                continue
    return "unknown"


def gemm_gflops(reps=2000):
    a = torch.randn(64, 784)
    b = torch.randn(784, 128)
    for _ in range(50):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * 64 * 784 * 128 * reps / (time.perf_counter() - t) / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, choices=["mlp", "deq", "unrolled"])
    p.add_argument("--data", required=True)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--max-iter", type=int, default=50)
    p.add_argument("--unroll", type=int, default=10)
    p.add_argument("--infer-iters", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(a.seed)
    x, y = load_mnist(a.data, max(a.steps * a.batch, 1000))
    model = build(a.model, a)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    n = x.shape[0]
    # Warm-up steps are not timed (allocator, kernels).
    for step in range(a.steps + 10):
        if step == 10:
            t0 = time.perf_counter()
            if a.model == "deq":
                model.stats = Stats()
        lo = (step * a.batch) % (n - a.batch)
        xb, yb = x[lo:lo + a.batch], y[lo:lo + a.batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    train_sps = a.steps * a.batch / (time.perf_counter() - t0)
    out = {"side": "pytorch", "model": a.model, "train_samples_per_second": train_sps,
           "final_loss": float(loss), "threads": torch.get_num_threads(),
           "gemm_gflops": gemm_gflops(), "torch": torch.__version__,
           "blas": "openblas" if "openblas" in open("/proc/self/maps").read() else "unknown",
           "blas_kernel": openblas_kernel(),
           "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}
    if a.model == "deq":
        s = model.stats
        out["forward_iterations_mean"] = s.fwd_iters / max(s.fwd_calls, 1)
        out["backward_iterations_mean"] = s.bwd_iters / max(s.bwd_calls, 1)
        model.fixed = a.infer_iters
    model.eval()
    for b in (64, 1000):
        xb = x[:b]
        with torch.no_grad():
            for _ in range(3):
                model(xb)
            reps = max(3, 100000 // b)  # as the Go side
            t = time.perf_counter()
            for _ in range(reps):
                model(xb)
            out[f"infer_samples_per_second_{b}"] = reps * b / (time.perf_counter() - t)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
