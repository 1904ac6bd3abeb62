"""The PDE workloads' twins (train/experiments/pde_ns.go and pde_darcy.go,
built in bench/gobench/pde.go and pde_darcy.go): Fourier neural operators
on periodic 32×32 grids, fields channel-last (B, S, S, C) as in Go.

A spectral convolution (fourier.SpectralConv) takes rfft2 of each channel
(no scaling forward), keeps kx ∈ {0…M−1} ∪ {S−M…S−1} and ky ∈ {0…M−1},
multiplies every kept mode by its complex In×Out matrix and returns
irfft2 (scaled 1/S²) of the truncated half spectrum. Its weight is
"name.W" (2, 2M², In, Out): [0] the real parts, [1] the imaginary parts,
mode j·M + ky with j the position of kx in the list above; drawn
U(±0.5/√(In·Out)) (fourier.SpectralInit(0.5)). GELU is the tanh form, as
layers.FusedGELU and EvalGELU compute it.

* "pde" (steady Navier–Stokes, forcing (2, S, S) → vorticity): the frame
  of fourier.Frame — a lift of (f_x, f_y, i/S, j/S) to width 32, a body,
  an output Fourier layer without its outer GELU, a projection 32 → 128
  (GELU) → 1 — around "deq" (G = 3 Fourier layers, each
  GELU(MLP(Kz) + zW + b + v) with MLP(s) = GELU(sA + a)M, the lift v
  injected; Anderson to 1e-6 within 24 iterations, the phantom gradient;
  tested at 50 plain iterations of ½(z + G(z))), "fno" (the same 3 layers
  once on the lift, nothing injected) or "fno++2" (2 untied blocks of 3
  from z = 0, v injected); the relative L2 error summed over the batch.
* "darcy" (coefficient → solution): fourier.FNO — a lift of (a, i/(S−1),
  j/(S−1)) to width 16, a body, a projection 16 → 64 (ReLU) → 1 — around
  "implicit" (the cell ReLU(Kz + zW + v + b), Anderson to 1e-3 within 30
  iterations, the phantom gradient; tested at 30 plain iterations) or
  "explicit" (one layer ReLU(Kv + vW + b)); mean squared error.

The phantom gradient (deq.Phantom{Steps: 3, Damping: 0.8}) replaces the
incoming gradient g of f(z*) by λ Σ_{i<3} ((1−λ)I + λJᵀ)^i g, the VJPs
taken at z*: 2 backward iterations per step, as Go counts them.

The samples are the Go side's: the first 256 of the experiment's
standardised training set, which gobench writes to the dataset cache
folder (bench-pde-v1-n256.bin, bench-darcy-v1-n256.bin), read here with
their SHA-256 checked.
"""
import hashlib
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from deqsolve import FORWARD, fixed_iterations
from lp import cache_dir
from twin import Batches, GoParams, glorot, zeros

BENCH_N = 256
PHANTOM_STEPS, PHANTOM_DAMPING = 3, 0.8
NS_S, NS_WIDTH, NS_MODES, NS_HIDDEN, NS_DEPTH = 32, 32, 8, 128, 3
NS_EVAL_RELAX, NS_TEST_ITERS = 0.5, 50
DARCY_S, DARCY_WIDTH, DARCY_MODES, DARCY_HIDDEN = 32, 16, 8, 64
MLP_GAIN, W_GAIN = 0.5, 0.25  # fourier's mlpGain, wGain


def load_bench_data(name, n_in, n_out):
    """The samples gobench wrote (pde_data.go's exportPDE)."""
    path = os.path.join(cache_dir(), f"bench-{name}-v1-n{BENCH_N}.bin")
    if not os.path.exists(path):
        raise SystemExit(f"{name}: {path} is missing: run `bin/gobench -workload {name}` once to write it")
    raw = open(path, "rb").read()
    if raw[:8] != b"implbnch" or hashlib.sha256(raw[:-32]).digest() != raw[-32:]:
        raise SystemExit(f"{name}: {path}: not a bench data file, or its checksum does not match")
    n, ni, no = (int(v) for v in np.frombuffer(raw, dtype="<i8", count=3, offset=8))
    if (ni, no) != (n_in, n_out):
        raise SystemExit(f"{name}: {path} holds samples of {ni} → {no} values, want {n_in} → {n_out}")
    x = np.frombuffer(raw, dtype="<f4", count=n * ni, offset=32).reshape(n, ni)
    y = np.frombuffer(raw, dtype="<f4", count=n * no, offset=32 + 4 * n * ni).reshape(n, no)
    return torch.from_numpy(x.copy()), torch.from_numpy(y.copy())


def gelu(x):
    return F.gelu(x, approximate="tanh")


def spectral_init(t):
    """fourier.SpectralInit(0.5) on (2, 2M², In, Out)."""
    a = 0.5 / math.sqrt(t.shape[2] * t.shape[3])
    with torch.no_grad():
        t.uniform_(-a, a)


def spectral(ps, name, z, m):
    """fourier.SpectralConv of z (B, S, S, In) → (B, S, S, Out)."""
    w = ps[name + ".W"]
    cin, cout = w.shape[2], w.shape[3]
    wc = torch.complex(w[0], w[1]).reshape(2 * m, m, cin, cout)
    b, s = z.shape[0], z.shape[1]
    zf = torch.fft.rfft2(z, dim=(1, 2))
    kept = torch.cat([zf[:, :m, :m], zf[:, s - m:, :m]], dim=1)
    h = torch.einsum("bxyi,xyio->bxyo", kept, wc)
    out = torch.zeros(b, s, s // 2 + 1, cout, dtype=h.dtype)
    out[:, :m, :m] = h[:, :m]
    out[:, s - m:, :m] = h[:, m:]
    return torch.fft.irfft2(out, s=(s, s), dim=(1, 2))


def dense(ps, name, n_in, n_out):
    """layers.Dense: name.W (in×out, Glorot) and name.b (zeros)."""
    ps.add(name + ".W", (n_in, n_out), glorot())
    ps.add(name + ".b", (1, n_out), zeros)


def affine(ps, name, x):
    return x @ ps[name + ".W"] + ps[name + ".b"]


def fourier_layer_params(ps, name, c, m):
    """fourier.NewFourierLayer's parameters."""
    ps.add(name + ".K.W", (2, 2 * m * m, c, c), spectral_init)
    ps.add(name + ".mlp1.W", (c, c), glorot(MLP_GAIN))
    ps.add(name + ".mlp1.b", (1, c), zeros)
    ps.add(name + ".mlp2.W", (c, c), glorot(MLP_GAIN))
    ps.add(name + ".W", (c, c), glorot(W_GAIN))
    ps.add(name + ".b", (1, c), zeros)


def fourier_layer(ps, name, z, inj, m, activated=True):
    """fourier.FourierLayer: GELU(MLP(Kz) + zW + b + inj), MLP(s) = GELU(sA + a)M."""
    h = gelu(affine(ps, name + ".mlp1", spectral(ps, name + ".K", z, m)))
    q = h @ ps[name + ".mlp2.W"] + z @ ps[name + ".W"] + ps[name + ".b"]
    if inj is not None:
        q = q + inj
    return gelu(q) if activated else q


def lift(ps, name, x, cin, s, h):
    """fourier's liftGrid: (B, In·S²) channel-first → (B, S, S, Width) of
    the lift of (channels…, i·h, j·h) at node (i, j)."""
    b = x.shape[0]
    a = x.reshape(b, cin, s, s).permute(0, 2, 3, 1)
    k = torch.arange(s, dtype=torch.float64) * h
    grid = torch.stack(torch.meshgrid(k, k, indexing="ij"), dim=-1).to(x.dtype)
    return affine(ps, name, torch.cat([a, grid.expand(b, s, s, 2)], dim=-1))


class PhantomImplicit:
    """layers.Implicit with deq.Phantom: z* by the forward solver (no
    graph), the output f(z*), and on the way back the incoming gradient g
    replaced by the phantom series at z*; with fixed > 0 (inference),
    exactly fixed plain iterations from z0."""

    def __init__(self, solver, tol, max_iter, stats):
        self.solver = FORWARD[("anderson", solver)]
        self.tol, self.max_iter, self.stats = tol, max_iter, stats

    def __call__(self, f, z0, training, fixed=0):
        if fixed:
            return fixed_iterations(f, z0, fixed)
        with torch.no_grad():
            zstar = self.solver(f, z0, tol=self.tol, max_iter=self.max_iter, stats=self.stats)
        out = f(zstar)
        if training and out.requires_grad:
            zs = zstar.detach().requires_grad_()
            f0 = f(zs)
            lam = PHANTOM_DAMPING

            def hook(g):
                v, u = g, g
                for _ in range(PHANTOM_STEPS - 1):
                    jv = torch.autograd.grad(f0, zs, v, retain_graph=True)[0]
                    v = (1 - lam) * v + lam * jv
                    u = u + v
                self.stats.backward(PHANTOM_STEPS - 1)
                return lam * u

            out.register_hook(hook)
        return out


class NSNet(torch.nn.Module):
    def __init__(self, model, a, stats):
        super().__init__()
        self.params = ps = GoParams()
        self.model, self.fixed = model, 0
        c, m = NS_WIDTH, NS_MODES
        if model == "deq":
            self.layers = [f"G.{k}" for k in range(NS_DEPTH)]
            self.layer = PhantomImplicit(a.solver, a.tol, a.max_iter, stats)
        elif model in ("fno", "fno++2"):
            blocks = 1 if model == "fno" else 2
            self.layers = [f"G.{b}.{k}" for b in range(blocks) for k in range(NS_DEPTH)]
        else:
            raise SystemExit(f"pde: unknown model {model!r} (deq, fno, fno++2)")
        for name in self.layers:  # the body first, as the Go side draws it
            fourier_layer_params(ps, name, c, m)
        dense(ps, "fno.lift", 4, c)
        fourier_layer_params(ps, "fno.out", c, m)
        dense(ps, "fno.proj", c, NS_HIDDEN)
        dense(ps, "fno.head", NS_HIDDEN, 1)

    def g(self, z, v):
        for name in self.layers:
            z = fourier_layer(self.params, name, z, v, NS_MODES)
        return z

    def forward(self, x):
        p, s = self.params, NS_S
        v = lift(p, "fno.lift", x, 2, s, 1 / s)
        if self.model == "deq":
            relax = NS_EVAL_RELAX if self.fixed else 1.0  # inference: the experiment's evaluation view

            def cell(z):
                gz = self.g(z, v)
                return gz if relax == 1 else (1 - relax) * z + relax * gz
            z = self.layer(cell, torch.zeros_like(v), self.training, self.fixed)
        elif self.model == "fno":
            z = self.g(v, None)
        else:
            z = self.g(torch.zeros_like(v), v)
        y = fourier_layer(p, "fno.out", z, None, NS_MODES, activated=False)
        u = affine(p, "fno.head", gelu(affine(p, "fno.proj", y)))
        return u.reshape(x.shape[0], s * s)


class DarcyNet(torch.nn.Module):
    def __init__(self, model, a, stats):
        super().__init__()
        self.params = ps = GoParams()
        self.model, self.fixed = model, 0
        c, m = DARCY_WIDTH, DARCY_MODES
        if model == "implicit":
            self.name = "cell"
            self.layer = PhantomImplicit(a.solver, a.tol, a.max_iter, stats)
            w_gain = W_GAIN  # layers.CellInit
        elif model == "explicit":
            self.name, w_gain = "block0", 1.0
        else:
            raise SystemExit(f"darcy: unknown model {model!r} (explicit, implicit)")
        ps.add(self.name + ".K.W", (2, 2 * m * m, c, c), spectral_init)
        ps.add(self.name + ".W", (c, c), glorot(w_gain))
        ps.add(self.name + ".b", (1, c), zeros)
        dense(ps, "fno.lift", 3, c)
        dense(ps, "fno.proj", c, DARCY_HIDDEN)
        dense(ps, "fno.out", DARCY_HIDDEN, 1)

    def block(self, z, inj):
        """fourier.FourierBlock: ReLU(Kz + inj + zW + b)."""
        q = spectral(self.params, self.name + ".K", z, DARCY_MODES) + affine(self.params, self.name, z)
        return torch.relu(q if inj is None else q + inj)

    def forward(self, x):
        p, s = self.params, DARCY_S
        v = lift(p, "fno.lift", x, 1, s, 1 / (s - 1))
        if self.model == "implicit":
            z = self.layer(lambda z: self.block(z, v), torch.zeros_like(v), self.training, self.fixed)
        else:
            z = self.block(v, None)
        u = affine(p, "fno.out", torch.relu(affine(p, "fno.proj", z)))
        return u.reshape(x.shape[0], s * s)


def relative_l2(out, y):
    """fourier.RelativeL2Loss: Σ_rows ‖out − y‖/‖y‖ (a zero target counts ‖out‖)."""
    tn = y.norm(dim=1)
    return ((out - y).norm(dim=1) / torch.where(tn == 0, torch.ones_like(tn), tn)).sum()


class NSWorkload(Batches):
    infer_batches = (16, 50)
    infer_iters = NS_TEST_ITERS
    train_batch, steps, infer_samples = 16, 10, 200
    tol, max_iter = 1e-6, 24

    def __init__(self, a):
        self.x, self.y = load_bench_data("pde", 2 * NS_S * NS_S, NS_S * NS_S)

    @staticmethod
    def loss(out, y):
        return relative_l2(out, y)

    @staticmethod
    def build(model, a, stats):
        return NSNet(model, a, stats)


class DarcyWorkload(Batches):
    infer_batches = (20, 50)
    infer_iters = 30
    train_batch, steps, infer_samples = 20, 20, 500
    tol, max_iter = 1e-3, 30

    def __init__(self, a):
        self.x, self.y = load_bench_data("darcy", DARCY_S * DARCY_S, DARCY_S * DARCY_S)

    @staticmethod
    def loss(out, y):
        return F.mse_loss(out, y)

    @staticmethod
    def build(model, a, stats):
        return DarcyNet(model, a, stats)
