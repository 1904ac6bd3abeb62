"""The reason workload's twins (train/experiments/reason.go, built in
bench/gobench/reason.go): bit strings of 32 → embed (1 → 32 per position)
→ a causal 1-D conv cell with a hidden layer (16 channels, hidden 32, ReLU,
offset −1) → readout (16 → 16 tanh → 2 per position), per-position
cross-entropy. "deq" solves the cell's fixed point by Picard iteration to
a relative 1e-5 within 72 iterations (adjoint likewise), "unrolled" applies
the weight-tied cell 32 times, "explicit" stacks 32 untied cells."""
import torch
import torch.nn.functional as F

from classify import Implicit, affine, dense
from twin import Batches, GoParams, glorot, zeros

LEN, CH, HID = 32, 16, 32
TOL, MAX_ITER = 1e-5, 2 * LEN + 8


def parity_bit(i, j):
    """bench/gobench/reason.go's parityBit, in uint32 arithmetic."""
    h = ((i * 1000003 + j * 7919) & 0xFFFFFFFF) * 2654435761 & 0xFFFFFFFF
    return (h >> 16) & 1


def parity_data(n):
    i = torch.arange(n, dtype=torch.int64)[:, None]
    j = torch.arange(LEN, dtype=torch.int64)[None, :]
    h = ((i * 1000003 + j * 7919) & 0xFFFFFFFF) * 2654435761 & 0xFFFFFFFF
    bits = (h >> 16) & 1
    return bits.float(), torch.cumsum(bits, dim=1) % 2


def conv_cell(ps, name):
    ps.add(name + ".W", (CH, HID), glorot())
    ps.add(name + ".b", (1, HID), zeros)
    ps.add(name + ".W2", (HID, CH), glorot())
    ps.add(name + ".b2", (1, CH), zeros)


def apply_cell(ps, name, z, inj):
    """conv.ConvCell with offsets {−1}: h_i = relu(z_{i−1}W + inj_i + b),
    z'_i = relu(h_i W2 + b2), zero before the first position."""
    b = z.shape[0]
    z3 = z.reshape(b, LEN, CH)
    shifted = F.pad(z3, (0, 0, 1, 0))[:, :LEN]
    h = torch.relu(shifted @ ps[name + ".W"] + inj + ps[name + ".b"])
    return torch.relu(h @ ps[name + ".W2"] + ps[name + ".b2"]).reshape(b, LEN * CH)


class Reason(torch.nn.Module):
    def __init__(self, model, a, stats):
        super().__init__()
        self.params = ps = GoParams()
        self.model = model
        dense(ps, "embed", 1, HID)
        if model == "explicit":
            for k in range(LEN):
                conv_cell(ps, f"layer{k}")
        elif model in ("deq", "unrolled"):
            conv_cell(ps, "cell")
        else:
            raise SystemExit("reason: unknown model " + model)
        dense(ps, "read1", CH, CH)
        dense(ps, "read2", CH, 2)
        self.layer = Implicit(a.solver, a.tol, a.max_iter, stats, forward="picard")
        self.fixed = 0

    def forward(self, x):
        p, b = self.params, x.shape[0]
        inj = affine(p, "embed", x.reshape(b * LEN, 1)).reshape(b, LEN, HID)
        z0 = torch.zeros(b, LEN * CH)
        if self.model == "deq":
            z = self.layer(lambda z: apply_cell(p, "cell", z, inj), z0, self.training, self.fixed)
        elif self.model == "unrolled":
            z = z0
            for _ in range(LEN):
                z = apply_cell(p, "cell", z, inj)
        else:
            z = z0
            for k in range(LEN):
                z = apply_cell(p, f"layer{k}", z, inj)
        h = torch.tanh(affine(p, "read1", z.reshape(b * LEN, CH)))
        return affine(p, "read2", h).reshape(b, LEN, 2)


class ReasonWorkload(Batches):
    infer_batches = (64, 256)
    infer_iters = LEN + 1
    train_batch = 64
    steps = 100
    infer_samples = 20000
    tol, max_iter = TOL, MAX_ITER

    def __init__(self, a):
        self.x, self.y = parity_data(max((a.steps + a.warmup) * a.batch, 256))

    @staticmethod
    def loss(out, y):
        return F.cross_entropy(out.reshape(-1, 2), y.reshape(-1))

    @staticmethod
    def build(model, a, stats):
        return Reason(model, a, stats)
