"""The deblur workload's twins (train/experiments/deblur_models.go, built in
bench/gobench/deblur.go): 28×28 images blurred with a circular boundary by
a 9×9 kernel, a residual CNN denoiser D(u) = u + N(u) of five 3×3
convolutions with 16 channels (ReLU), and

* "pgd": the implicit PGD model y ← D(y − γ(AᵀAy + λy − Aᵀx)), λ = 0.02, γ
  learned and clipped to [0, 2/(1+λ)], every convolution's operator norm
  kept ≤ 1 by power iteration after each step; trained on the 100th plain
  iterate from y₀ = Aᵀx with an IFT adjoint (Picard, relative 1e-5, at most
  20 iterations), tested at 100 iterations;
* "hqs": the implicit HQS model y ← D((AᵀA + βI)⁻¹(Aᵀx + βy)), β = e^ρ
  learned (initially 0.25), the inverse exact in the Fourier domain (A is
  circulant: its eigenvalues are the DFT of its impulse response), the
  same denoiser, iterations and adjoint as PGD;
* "once": the unconstrained denoiser applied once to Aᵀx.

The kernel is the Go side's (the camera-shake kernel) when --init gives
it ("blur.taps"); otherwise a normalised 9×9 Gaussian of the same size,
which costs the same here (a dense convolution does not skip zero taps).
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

from classify import Implicit
from twin import Batches, GoParams, glorot, zeros

SIDE, CH, DEPTH, LAMBDA = 28, 16, 5, 0.02
SIGMA_D, MIN_SIGMA = 0.03, 1e-4  # the deblur experiment's σ_D start, conv.MinNoiseLevel
ITERS, ADJ_TOL, ADJ_CAP = 100, 1e-5, 20


def gaussian_taps(k=9, sigma=1.1):
    c = k // 2
    a = torch.arange(k, dtype=torch.float64) - c
    w = torch.exp(-(a[:, None] ** 2 + a[None, :] ** 2) / (2 * sigma * sigma))
    return (w / w.sum()).float()


def go_taps(path):
    """The blur kernel the Go side wrote with its parameters, if any."""
    if not path:
        return None
    with open(path) as f:
        for p in json.load(f):
            if p["name"] == "blur.taps":
                return torch.tensor(p["data"], dtype=torch.float32).reshape(p["shape"])
    return None


class Blur:
    """imaging.Blur: pixel (i, j) of A·x is Σ taps[a,b]·x[(i+a−c) mod H,
    (j+b−c) mod W]; Aᵀ uses the taps reversed."""

    def __init__(self, taps):
        k = taps.shape[0]
        self.c = k // 2
        self.fwd = taps.reshape(1, 1, k, k)
        self.adj = taps.flip(0, 1).reshape(1, 1, k, k).contiguous()

    def _apply(self, x, w):
        b = x.shape[0]
        img = F.pad(x.reshape(b, 1, SIDE, SIDE), (self.c,) * 4, mode="circular")
        return F.conv2d(img, w).reshape(b, SIDE * SIDE)

    def A(self, x):
        return self._apply(x, self.fwd)

    def spectrum(self):
        """|Â(f)|², the eigenvalues of AᵀA on the 2-D DFT modes."""
        delta = torch.zeros(1, SIDE * SIDE)
        delta[0, 0] = 1
        h = self.A(delta).reshape(SIDE, SIDE).double()
        return (torch.fft.fft2(h).abs() ** 2).float()

    def AT(self, x):
        return self._apply(x, self.adj)


class ResCNN:
    """conv.ResCNN with a learned noise level (conv.ResNoiseLevel): conv1
    (2 → CH) on [u, σ_D·1] (the image and a constant channel holding
    σ_D, DRUNet's noise-level map), conv2 … conv(DEPTH−1) (CH → CH), ReLU,
    the last (CH → 1, Glorot gain 0.1) plus the skip u. Weights are
    (out, in·3·3) as in Go, then name.sigma (from SIGMA_D, clipped to
    ≥ MIN_SIGMA after every step); bounded, each convolution is rescaled
    after every step to operator norm ≤ 1 (2 power iterations from the
    last vector, 30 at construction, as conv.Conv2D.Project)."""

    def __init__(self, ps, name, bounded):
        self.names, self.bounded, self.v = [], bounded, {}
        for layer in range(DEPTH):
            cin = 2 if layer == 0 else CH
            cout = 1 if layer == DEPTH - 1 else CH
            n = f"{name}.conv{layer + 1}"
            ps.add(n + ".W", (cout, 9 * cin), glorot(0.1 if layer == DEPTH - 1 else 1.0))
            ps.add(n + ".b", (1, cout), zeros)
            self.names.append((n, cin, cout))
        self.sigma = name + ".sigma"
        ps.add(self.sigma, (1, 1), lambda t: torch.nn.init.constant_(t, SIGMA_D))
        self.ps = ps
        if bounded:
            self.project(30)

    def __call__(self, u):
        b = u.shape[0]
        noise = self.ps[self.sigma].reshape(1, 1, 1, 1).expand(b, 1, SIDE, SIDE)
        h = torch.cat([u.reshape(b, 1, SIDE, SIDE), noise], dim=1)
        for i, (n, cin, cout) in enumerate(self.names):
            w = self.ps[n + ".W"].reshape(cout, cin, 3, 3)
            h = F.conv2d(h, w, self.ps[n + ".b"].reshape(cout), padding=1)
            if i < len(self.names) - 1:
                h = torch.relu(h)
        return h.reshape(b, SIDE * SIDE) + u

    @torch.no_grad()
    def project(self, iters=2):
        self.ps[self.sigma].clamp_(min=MIN_SIGMA)
        if not self.bounded:
            return
        for n, cin, cout in self.names:
            W = self.ps[n + ".W"]
            w = W.reshape(cout, cin, 3, 3)
            v = self.v.get(n)
            if v is None:
                v = torch.randn(1, cin, SIDE, SIDE, dtype=torch.float64).float()
                v = v / v.norm()
            sigma = 0.0
            for _ in range(iters):
                u = F.conv2d(v, w, padding=1)
                nu = u.norm()
                if nu == 0:
                    break
                v = F.conv_transpose2d(u, w, padding=1)
                nv = v.norm()
                sigma = float(nv / nu)
                v = v / nv
            self.v[n] = v
            if sigma > 1:
                W.mul_(1 / sigma)


class Deblur(torch.nn.Module):
    def __init__(self, model, a, stats, taps):
        super().__init__()
        self.params = ps = GoParams()
        self.model, self.blur = model, Blur(taps)
        if model == "once":
            self.D = ResCNN(ps, "D", bounded=False)
        elif model == "pgd":
            ps.add("pgd.gamma", (1, 1), lambda t: torch.nn.init.constant_(t, 1.0))
            self.D = ResCNN(ps, "pgd.D", bounded=True)
        elif model == "hqs":
            self.D = ResCNN(ps, "hqs.D", bounded=True)
            ps.add("hqs.logbeta", (1, 1), lambda t: torch.nn.init.constant_(t, math.log(0.25)))
            self.ata = self.blur.spectrum()
        else:
            raise SystemExit(f"deblur: unknown model {model!r} (pgd, hqs, once)")
        iters, adj_tol, adj_cap = ITERS, ADJ_TOL, ADJ_CAP
        if a.fixed:
            iters, adj_tol, adj_cap = a.fixed, -1.0, a.fixed
        self.layer = Implicit(a.solver, adj_tol, adj_cap, stats, iterations=iters)
        self.fixed = 0

    def step(self, y, atx):
        if self.model == "hqs":
            beta = torch.exp(self.params["hqs.logbeta"])
            b = y.shape[0]
            rhs = torch.fft.fft2((atx + beta * y).reshape(b, SIDE, SIDE))
            # imaging.Blur.HQSStepTikhonov: (AᵀA + (β + λ)I)⁻¹(Aᵀx + βy)
            u = torch.fft.ifft2(rhs / (self.ata + beta + LAMBDA)).real.reshape(b, SIDE * SIDE)
            return self.D(u)
        g = self.params["pgd.gamma"]
        return self.D(y - g * (self.blur.AT(self.blur.A(y)) + LAMBDA * y - atx))

    def forward(self, x):
        atx = self.blur.AT(x)
        if self.model == "once":
            return self.D(atx)
        return self.layer(lambda y: self.step(y, atx), atx, self.training, self.fixed)

    @torch.no_grad()
    def project(self):
        if self.model == "pgd":
            self.params["pgd.gamma"].clamp_(0, 2 / (1 + LAMBDA))
        self.D.project()


class DeblurWorkload(Batches):
    infer_batches = (16, 100)
    infer_iters = ITERS
    train_batch = 16
    steps = 20
    infer_samples = 300
    tol, max_iter = 1e-4, ITERS

    def __init__(self, a):
        from bench import load_idx  # the IDX reader of bench.py
        import os
        self.taps = go_taps(a.init)
        if self.taps is None:
            self.taps = gaussian_taps()
        n = max((a.steps + a.warmup) * a.batch, 256)
        raw = load_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))[:n]
        y = torch.from_numpy(np.ascontiguousarray(raw.reshape(n, -1).astype(np.float32) / 255))
        self.y, self.x = y, Blur(self.taps).A(y)

    @staticmethod
    def loss(out, y):
        return F.mse_loss(out, y)

    def build(self, model, a, stats):
        return Deblur(model, a, stats, self.taps)

