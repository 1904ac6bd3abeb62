"""The classify workload's twins: the models of `go run ./cmd/train
-experiment classify` (explicit MLP, implicit DEQ, unrolled twin), with the
Go side's parameter names, layouts and initialisers."""
import torch

from deqsolve import FORWARD, fixed_iterations, picard_adjoint
from twin import GoParams, glorot, zeros


def dense(ps, name, n_in, n_out, bias=True, gain=1.0):
    ps.add(name + ".W", (n_in, n_out), glorot(gain))
    if bias:
        ps.add(name + ".b", (1, n_out), zeros)


def affine(ps, name, x, bias=True):
    y = x @ ps[name + ".W"]
    return y + ps[name + ".b"] if bias else y


class Implicit:
    """The implicit layer's forward and backward as package layers does
    them: z* by the forward solver (no graph), the output f(z*), and on
    the way back the incoming gradient g replaced by u = g + J_f(z*)ᵀu,
    solved by picard_adjoint with the VJPs of f at z*."""

    def __init__(self, solver, tol, max_iter, stats, forward="anderson", iterations=0):
        self.solver = FORWARD[(forward, solver)]
        self.tol, self.max_iter, self.stats = tol, max_iter, stats
        # iterations > 0: the forward pass is that many plain iterations
        # (Controls.Iterations: iterations − 1 counted, then f once more),
        # the adjoint still solved to tol within max_iter.
        self.iterations = iterations

    def __call__(self, f, z0, training, fixed=0):
        if fixed:
            return fixed_iterations(f, z0, fixed)
        with torch.no_grad():
            if self.iterations:
                zstar = z0
                for _ in range(self.iterations - 1):
                    zstar = f(zstar)
                self.stats.forward(self.iterations - 1)
            else:
                zstar = self.solver(f, z0, tol=self.tol, max_iter=self.max_iter, stats=self.stats)
        out = f(zstar)
        if training and out.requires_grad:
            zs = zstar.detach().requires_grad_()
            f0 = f(zs)

            def vjp(v):
                return torch.autograd.grad(f0, zs, v, retain_graph=True)[0]

            def hook(g):
                return picard_adjoint(vjp, g, tol=self.tol, max_iter=self.max_iter, stats=self.stats)

            out.register_hook(hook)
        return out


class MLP(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.params = ps = GoParams()
        dense(ps, "fc1", 784, a.hidden)
        dense(ps, "fc2", a.hidden, a.hidden)
        dense(ps, "head", a.hidden, 10)

    def forward(self, x):
        h = torch.tanh(affine(self.params, "fc1", x))
        h = torch.tanh(affine(self.params, "fc2", h))
        return affine(self.params, "head", h)


class DEQ(torch.nn.Module):
    """784 → implicit 128 → 10: z* = tanh(z*W + xU + b)."""

    def __init__(self, a, stats):
        super().__init__()
        self.params = ps = GoParams()
        dense(ps, "inject", 784, a.hidden, bias=False)
        dense(ps, "cell", a.hidden, a.hidden, gain=0.25)  # layers.CellInit
        dense(ps, "head", a.hidden, 10)
        self.layer = Implicit(a.solver, a.tol, a.max_iter, stats)
        self.fixed = 0

    def forward(self, x):
        p = self.params
        inj = affine(p, "inject", x, bias=False)
        W, b = p["cell.W"], p["cell.b"]
        z = self.layer(lambda z: torch.tanh(z @ W + inj + b), torch.zeros_like(inj), self.training, self.fixed)
        return affine(p, "head", z)


class Unrolled(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.params = ps = GoParams()
        dense(ps, "inject", 784, a.hidden, bias=False)
        dense(ps, "cell", a.hidden, a.hidden, gain=0.25)
        dense(ps, "head", a.hidden, 10)
        self.k = a.unroll

    def forward(self, x):
        p = self.params
        inj = affine(p, "inject", x, bias=False)
        z = torch.zeros_like(inj)
        for _ in range(self.k):
            z = torch.tanh(z @ p["cell.W"] + inj + p["cell.b"])
        return affine(p, "head", z)


def build(model, a, stats):
    if model == "mlp":
        return MLP(a)
    if model == "deq":
        return DEQ(a, stats)
    if model == "unrolled":
        return Unrolled(a)
    raise SystemExit("classify: unknown model " + model)
