"""Parameters in the Go layout, so that both sides can start from the same
weights: every twin keeps its parameters under the Go side's names
("inject.W", "cell.b", …), Dense weights as in×out multiplied from the
right, and initialises them as package layers does (Glorot uniform, biases
zero). load_params reads the JSON that `gobench -params-out` writes."""
import json
import math

import torch


class GoParams(torch.nn.Module):
    """A flat set of parameters addressed by their Go names."""

    def __init__(self):
        super().__init__()
        self._p = torch.nn.ParameterDict()

    def add(self, name, shape, init):
        t = torch.empty(*shape)
        init(t)
        self._p[name.replace(".", "__")] = torch.nn.Parameter(t)
        return self._p[name.replace(".", "__")]

    def __getitem__(self, name):
        return self._p[name.replace(".", "__")]

    def names(self):
        return [k.replace("__", ".") for k in self._p.keys()]


def glorot(gain=1.0):
    """layers.GlorotUniform(gain): U(±gain·sqrt(6/(fan_in+fan_out))) with
    the fans of layers.fans (in, out for 2-D; receptive field for conv)."""
    def init(t):
        if t.dim() == 2:
            fin, fout = t.shape[0], t.shape[1]
        elif t.dim() == 1:
            fin = fout = t.shape[0]
        else:
            rec = math.prod(t.shape[2:])
            fin, fout = t.shape[1] * rec, t.shape[0] * rec
        a = gain * math.sqrt(6 / (fin + fout))
        with torch.no_grad():
            t.uniform_(-a, a)
    return init


def zeros(t):
    with torch.no_grad():
        t.zero_()


def load_params(model, path):
    """Copies the Go side's parameters (gobench -params-out) into model,
    matching them by name; every parameter of either side must match."""
    with open(path) as f:
        ps = json.load(f)
    go = {p["name"]: p for p in ps if not p.get("fixed")}  # constants: the workload reads them
    mine = set(model.params.names())
    if set(go) != mine:
        raise SystemExit(f"--init {path}: Go parameters {sorted(go)} differ from the twin's {sorted(mine)}")
    with torch.no_grad():
        for name, p in go.items():
            t = model.params[name]
            v = torch.tensor(p["data"], dtype=t.dtype).reshape(p["shape"])
            if tuple(v.shape) != tuple(t.shape):
                raise SystemExit(f"--init: {name} has shape {list(v.shape)} in Go and {list(t.shape)} here")
            t.copy_(v)


class Batches:
    """A workload's data held as tensors self.x (inputs) and self.y
    (targets): training step `step` takes the b rows from (step·b) mod
    (n − b), as gobench's timing does, and inference reads the first b
    inputs."""

    def batch(self, step, b):
        n = self.x.shape[0]
        lo = (step * b) % (n - b)
        return self.x[lo:lo + b], self.y[lo:lo + b]

    def infer_input(self, b):
        return self.x[:b]
