#!/usr/bin/env python3
"""PyTorch reference for `make bench-compare`.

Trains and evaluates the twin of one Go model — classify.py (the explicit
MLP, implicit DEQ and unrolled twin of `-experiment classify`), reason.py
(explicit stack, implicit loop, unrolled), deblur.py (denoiser once,
implicit PGD and HQS), lp.py (explicit and implicit bipartite graph
networks), pde.py (Navier–Stokes FNO, FNO++ and FNO-DEQ; Darcy explicit
and implicit FNO) — and prints one JSON object with throughputs and
iteration counts. Self-contained: numpy and torch only, MNIST read from the IDX
files the Go side uses.

A twin is the same computation as its Go model, not merely the same
architecture: the same parameter layout, initialisers (twin.py), data
standardisation, forward solver and stopping rule, adjoint solver and
linearisation point (deqsolve.py). --init loads the Go side's initial
weights (gobench -params-out) and --trace records each step's loss and
iterations, so the two sides can be compared step by step: with the same
weights they agree to float32 rounding. (The DEQ's iteration counts once
differed — 9.4 / 16.7 here against 7.7 / 8.4 in Go — because this side
initialised the injection and head with PyTorch's default nn.Linear init
instead of the Go model's Glorot uniform with zero biases: a smaller
injection leaves tanh less saturated and J_f less contractive.)

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

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classify  # noqa: E402
import reason  # noqa: E402
import deblur  # noqa: E402
import lp  # noqa: E402
import pde  # noqa: E402
from deqsolve import Stats  # noqa: E402
from twin import Batches, load_params  # noqa: E402


def load_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load_mnist(d, n):
    """The first n training images, standardised with the mean and std of
    all 60,000 pixels sets, as datasets.Labeled.MeanStd/Standardize."""
    raw = load_idx(os.path.join(d, "train-images-idx3-ubyte.gz"))
    allx = raw.reshape(raw.shape[0], -1).astype(np.float32) / 255
    mean = allx.astype(np.float64).mean()
    std = np.sqrt(((allx.astype(np.float64) - mean) ** 2).mean())
    x = (allx[:n] - np.float32(mean)) / np.float32(std)
    y = load_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"))[:n].astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


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


class ClassifyWorkload(Batches):
    """MNIST batches in the Go side's order; cross-entropy."""
    infer_batches = (64, 1000)
    infer_iters = 10
    train_batch, steps, infer_samples = 64, 300, 100000
    tol, max_iter = 1e-4, 50

    def __init__(self, a):
        self.x, self.y = load_mnist(a.data, max((a.steps + a.warmup) * a.batch, 1000))

    @staticmethod
    def loss(out, y):
        return F.cross_entropy(out, y)

    @staticmethod
    def build(model, a, stats):
        return classify.build(model, a, stats)


WORKLOADS = {"classify": ClassifyWorkload, "reason": reason.ReasonWorkload, "deblur": deblur.DeblurWorkload,
             "lp": lp.LPWorkload, "pde": pde.NSWorkload, "darcy": pde.DarcyWorkload}


def time_training(model, w, a, opt, stats):
    """a.warmup untimed steps, then a.steps timed ones; the first a.trace
    steps' losses and iterations are recorded as the Go side records them."""
    trace, t0, loss = [], time.perf_counter(), None
    model.train()
    for step in range(a.steps + a.warmup):
        if step == a.warmup:
            t0 = time.perf_counter()
            stats.__init__()
        xb, yb = w.batch(step, a.batch)
        f0, b0 = stats.fwd_iters, stats.bwd_iters
        opt.zero_grad(set_to_none=True)
        loss = w.loss(model(xb), yb)
        loss.backward()
        opt.step()
        if hasattr(model, "project"):
            model.project()  # as Session.Step calls Net.Project
        if step < a.trace:
            trace.append({"step": step, "loss": float(loss), "forward_iterations": stats.fwd_iters - f0,
                          "backward_iterations": stats.bwd_iters - b0})
    return a.steps * a.batch / max(time.perf_counter() - t0, 1e-9), float(loss), trace


def time_inference(model, w, b, reps):
    xb = w.infer_input(b)
    with torch.no_grad():
        for _ in range(3):
            model(xb)
        t = time.perf_counter()
        for _ in range(reps):
            model(xb)
        return reps * b / (time.perf_counter() - t)


def first_predictions(model, w, b, iters):
    """The predictions for the first b samples, implicit models at iters
    iterations, as gobench's firstPredictions; the model is left training."""
    saved = getattr(model, "fixed", None)
    if saved is not None:
        model.fixed = iters
    model.eval()
    with torch.no_grad():
        pred = model(w.infer_input(b))
    model.train()
    if saved is not None:
        model.fixed = saved
    return pred.reshape(-1).tolist()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", default="classify", choices=sorted(WORKLOADS))
    p.add_argument("--model", required=True)
    p.add_argument("--solver", default="port", choices=["port", "batched"],
                   help="forward solver: the port of deq.Anderson, or a batched TorchDEQ-style Anderson")
    p.add_argument("--data", required=True)
    p.add_argument("--batch", type=int, default=0, help="training batch size (0: the workload's)")
    p.add_argument("--steps", type=int, default=-1, help="timed training steps (-1: the workload's)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--tol", type=float, default=0, help="relative residual of the solves (0: the workload's)")
    p.add_argument("--max-iter", type=int, default=0, help="iteration cap of the solves (0: the workload's)")
    p.add_argument("--fixed", type=int, default=0,
                   help="train at exactly this many forward and backward iterations (tol < 0, max-iter K)")
    p.add_argument("--unroll", type=int, default=10)
    p.add_argument("--infer-iters", type=int, default=0, help="test-time iterations of implicit models (0: the workload's)")
    p.add_argument("--infer-reps", type=int, default=0, help="inference repetitions (0: the workload's number of samples)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--init", default="", help="start from the Go side's parameters (gobench -params-out)")
    p.add_argument("--trace", type=int, default=0, help="record the loss and iterations of the first N steps")
    a = p.parse_args()
    a.batch = a.batch or WORKLOADS[a.workload].train_batch
    if a.steps < 0:
        a.steps = WORKLOADS[a.workload].steps
    w = WORKLOADS[a.workload](a)
    if a.fixed:
        a.tol, a.max_iter = -1.0, a.fixed
    else:
        a.tol, a.max_iter = a.tol or w.tol, a.max_iter or w.max_iter
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(a.seed)
    stats = Stats()
    model = w.build(a.model, a, stats)
    # The twin's own initialisation, summarised before --init replaces it:
    # compare -check holds it against the Go side's draws.
    init_std = {n: float(model.params[n].detach().double().std()) if model.params[n].numel() > 1 else 0.0
                for n in model.params.names()}
    if a.init:
        load_params(model, a.init)
    if a.trace:  # the predictions at the initial weights, held against Go's
        pred = first_predictions(model, w, w.infer_batches[0], a.infer_iters or w.infer_iters)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_sps, loss, trace = time_training(model, w, a, opt, stats)
    out = {"side": "pytorch", "workload": a.workload, "model": a.model, "solver": a.solver, "batch": a.batch, "steps": a.steps,
           "train_samples_per_second": train_sps,
           "final_loss": loss, "threads": torch.get_num_threads(),
           "gemm_gflops": gemm_gflops(), "torch": torch.__version__,
           "blas": "openblas" if "openblas" in open("/proc/self/maps").read() else "unknown",
           "blas_kernel": openblas_kernel(),
           "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}
    if stats.fwd_calls:
        out["forward_iterations_mean"] = stats.fwd_iters / stats.fwd_calls
        out["backward_iterations_mean"] = stats.bwd_iters / max(stats.bwd_calls, 1)
    if trace:
        out["trace"], out["infer_output"] = trace, pred
        out["init_std"] = init_std
    if hasattr(model, "fixed"):
        model.fixed = a.infer_iters or w.infer_iters
    model.eval()
    for b in w.infer_batches:
        reps = a.infer_reps or max(3, w.infer_samples // b)  # as the Go side
        out[f"infer_samples_per_second_{b}"] = time_inference(model, w, b, reps)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
