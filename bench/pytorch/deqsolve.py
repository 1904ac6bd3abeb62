"""Fixed-point solvers of the PyTorch side of `make bench-compare`.

Two forward solvers with one stopping rule — a sample has converged when
its relative residual ||f(z) - z|| / ||f(z)|| is at most tol, the solve
ends when every sample has converged or after max_iter evaluations of f
(tol < 0 never stops early: the fixed-iteration variants) — and one adjoint
solver, the same rule applied to u = g + J^T u:

* anderson_port: a port of deq.Anderson (per-sample history, converged
  samples frozen, the best iterate per sample kept, small systems in
  float64 with a ridge relative to their scale);
* anderson_batched: what a PyTorch user writes after TorchDEQ: one batched
  Anderson over (batch, m, d) tensors in the model's dtype, the bordered
  least-squares system solved by torch.linalg.solve, no per-sample
  bookkeeping beyond the stopping test;
* picard_adjoint: fixed-point iteration on the adjoint system, as
  deq.IFT{Solver: deq.Picard{}} with the same Stop.

Every solver counts evaluations of f (or VJPs) in a Stats object, as the
Go side's SolverStats count them.
"""
import torch


class Stats:
    def __init__(self):
        self.fwd_calls = self.fwd_iters = self.bwd_calls = self.bwd_iters = 0
        self.last_fwd = self.last_bwd = 0

    def forward(self, iters):
        self.fwd_calls += 1
        self.fwd_iters += iters
        self.last_fwd = iters

    def backward(self, iters):
        self.bwd_calls += 1
        self.bwd_iters += iters
        self.last_bwd = iters


def fixed_iterations(f, z0, n):
    """Exactly n evaluations of f from z0 without a graph, as
    Evaluator.SetIterations(n): the test-time budget of every twin."""
    with torch.no_grad():
        z = z0
        for _ in range(n - 1):
            z = f(z)
        return f(z)


def _rel(g, fz):
    """Per-sample ||g|| and ||g||/||f(z)|| over all but the batch axis."""
    b = g.shape[0]
    a = g.reshape(b, -1).norm(dim=1)
    r = fz.reshape(b, -1).norm(dim=1).clamp_min(1e-30)
    return a, a / r


def anderson_port(f, z0, m=5, tol=1e-4, max_iter=50, ridge=1e-8, stats=None):
    """Per-sample Anderson (type II, mixing 1): deq.Anderson{} under
    deq.Stop{Tol: tol, MaxIter: max_iter}. Returns each sample's best
    iterate (lowest absolute residual), as deq's Tracker does."""
    shape = z0.shape
    bsz = shape[0]
    z = z0.reshape(bsz, -1)
    d = z.shape[1]
    X = torch.zeros(bsz, m, d, dtype=z0.dtype)
    G = torch.zeros(bsz, m, d, dtype=z0.dtype)
    best = z.clone()
    best_abs = torch.full((bsz,), float("inf"), dtype=torch.float64)
    live = torch.ones(bsz, dtype=torch.bool)
    k = 0
    for k in range(max_iter):
        fz = f(z.reshape(shape)).reshape(bsz, d)
        g = fz - z
        a, res = _rel(g.double(), fz.double())
        improved = live & (a < best_abs)
        best[improved] = z[improved]
        best_abs = torch.where(improved, a, best_abs)
        live = live & ~(res <= tol) if tol >= 0 else live
        if not live.any():
            break
        slot = k % m
        X[:, slot] = z
        G[:, slot] = g
        n = min(k + 1, m)
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
        stats.forward(k + 1)
    return best.reshape(shape)


def anderson_batched(f, z0, m=5, tol=1e-4, max_iter=50, lam=1e-8, stats=None):
    """Batched Anderson as TorchDEQ writes it: history tensors (batch, m, d),
    the bordered system [[0, 1ᵀ], [1, GGᵀ + λI]] [ν; α] = [1; 0] solved for
    every sample at once in the model's dtype, one stopping test per
    iteration (every sample's relative residual ≤ tol). Returns the last
    iterate."""
    shape = z0.shape
    bsz = shape[0]
    x0 = z0.reshape(bsz, -1)
    d = x0.shape[1]
    X = torch.zeros(bsz, m, d, dtype=z0.dtype)
    F = torch.zeros(bsz, m, d, dtype=z0.dtype)
    H = torch.zeros(bsz, m + 1, m + 1, dtype=z0.dtype)
    H[:, 0, 1:] = H[:, 1:, 0] = 1
    y = torch.zeros(bsz, m + 1, 1, dtype=z0.dtype)
    y[:, 0] = 1
    z = x0
    k = 0
    for k in range(max_iter):
        fz = f(z.reshape(shape)).reshape(bsz, d)
        if tol >= 0:
            _, res = _rel(fz - z, fz)
            if bool((res <= tol).all()):
                break
        if k == max_iter - 1:
            break
        slot = k % m
        X[:, slot] = z
        F[:, slot] = fz
        n = min(k + 1, m)
        Gk = F[:, :n] - X[:, :n]
        H[:, 1:n + 1, 1:n + 1] = torch.bmm(Gk, Gk.transpose(1, 2)) + lam * torch.eye(n, dtype=z0.dtype)[None]
        alpha = torch.linalg.solve(H[:, :n + 1, :n + 1], y[:, :n + 1])[:, 1:n + 1, 0]
        z = torch.bmm(alpha[:, None], F[:, :n])[:, 0]
    if stats is not None:
        stats.forward(k + 1)
    return z.reshape(shape)


def picard_adjoint(vjp, grad, tol=1e-4, max_iter=50, stats=None):
    """u = grad + J^T u by fixed-point iteration from u = grad, stopping as
    deq.IFT{Solver: deq.Picard{}, Stop: {tol, max_iter}}: after the VJP
    whose residual ||u_new - u|| / ||u_new|| is at most tol for every
    sample. Returns the iterate the last test was made at, as deq's
    Tracker returns the iterate whose image it observed."""
    u = grad
    k = 0
    for k in range(max_iter):
        u_new = vjp(u) + grad
        if tol >= 0:
            _, res = _rel(u_new - u, u_new)
            if bool((res <= tol).all()):
                break
        u = u_new
    if stats is not None:
        stats.backward(k + 1)
    return u


def picard_port(f, z0, tol=1e-4, max_iter=50, stats=None, **_):
    """deq.Picard{} under deq.Stop{Tol: tol, MaxIter: max_iter}: plain
    fixed-point iteration, converged samples frozen, each sample's best
    iterate (lowest absolute residual) returned."""
    shape = z0.shape
    bsz = shape[0]
    z = z0.reshape(bsz, -1)
    best = z.clone()
    best_abs = torch.full((bsz,), float("inf"), dtype=torch.float64)
    live = torch.ones(bsz, dtype=torch.bool)
    k = 0
    for k in range(max_iter):
        fz = f(z.reshape(shape)).reshape(bsz, -1)
        a, res = _rel((fz - z).double(), fz.double())
        improved = live & (a < best_abs)
        best[improved] = z[improved]
        best_abs = torch.where(improved, a, best_abs)
        if tol >= 0:
            live = live & ~(res <= tol)
        if not live.any():
            break
        z = torch.where(live[:, None], fz, z)
    if stats is not None:
        stats.forward(k + 1)
    return best.reshape(shape)


def picard_batched(f, z0, tol=1e-4, max_iter=50, stats=None, **_):
    """Plain fixed-point iteration as a PyTorch user writes it: one stopping
    test per iteration (every sample's relative residual ≤ tol), the last
    iterate returned."""
    z = z0
    k = 0
    for k in range(max_iter):
        fz = f(z)
        if tol >= 0:
            _, res = _rel(fz - z, fz)
            if bool((res <= tol).all()):
                break
        z = fz
    if stats is not None:
        stats.forward(k + 1)
    return z


FORWARD = {("anderson", "port"): anderson_port, ("anderson", "batched"): anderson_batched,
           ("picard", "port"): picard_port, ("picard", "batched"): picard_batched}
