#!/usr/bin/python3
"""tests/parity/gen.py: PyTorch reference values for typenet's layer, loss, optimizer and MLP tests.

Run with Debian's python3-torch (1.13, CPU):  /usr/bin/python3 tests/parity/gen.py
Everything is float64 with a fixed seed, so a rerun rewrites the same files byte for byte.

Format (parsed by tests/support/parity.hpp): a file is a sequence of blocks; each block is a header
line `<name> <rank> <d0> ... <d_{rank-1}>` and one line of the values in row-major order, printed
'%.17g' (exact round trip). Integer labels are stored as doubles. Rank 0 is a scalar (one value).
"""
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


class Writer:
    def __init__(self, name):
        self.path = os.path.join(DATA, name)
        self.lines = []
        self.names = set()

    def add(self, name, t):
        assert " " not in name and name not in self.names, name
        self.names.add(name)
        t = torch.as_tensor(t, dtype=torch.float64).detach()
        dims = list(t.shape)
        self.lines.append(" ".join([name, str(len(dims))] + [str(d) for d in dims]))
        self.lines.append(" ".join("%.17g" % v for v in t.reshape(-1).tolist()))

    def close(self):
        with open(self.path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def dense():
    # torch.nn.Linear(5, 3): w (Out, In) = (3, 5), b (3); batch 4.
    w = Writer("dense.txt")
    lin = torch.nn.Linear(5, 3)
    x = torch.randn(4, 5, requires_grad=True)
    dy = torch.randn(4, 3)
    y = lin(x)
    y.backward(dy)
    w.add("x", x); w.add("w", lin.weight); w.add("b", lin.bias); w.add("dy", dy)
    w.add("y", y); w.add("dx", x.grad); w.add("dw", lin.weight.grad); w.add("db", lin.bias.grad)
    w.close()


def activations():
    # x (4, 6) spread over [-4, 4] so sigmoid / tanh / gelu leave their linear range.
    w = Writer("activation.txt")
    x0 = 2 * torch.randn(4, 6)
    dy = torch.randn(4, 6)
    w.add("x", x0); w.add("dy", dy)
    fns = {
        "relu": F.relu,
        "leaky_relu_0.01": lambda v: F.leaky_relu(v, 0.01),
        "leaky_relu_0.2": lambda v: F.leaky_relu(v, 0.2),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": lambda v: F.gelu(v, approximate="none"),
        "softmax": lambda v: F.softmax(v, dim=-1),
        "log_softmax": lambda v: F.log_softmax(v, dim=-1),
    }
    for name, fn in fns.items():
        x = x0.clone().requires_grad_(True)
        y = fn(x)
        y.backward(dy)
        w.add(name + "/y", y); w.add(name + "/dx", x.grad)
    w.close()


def flatten():
    w = Writer("flatten.txt")
    x = torch.randn(2, 3, 2, 2, requires_grad=True)
    y = torch.flatten(x, 1)
    dy = torch.randn(2, 12)
    y.backward(dy)
    w.add("x", x); w.add("dy", dy); w.add("y", y); w.add("dx", x.grad)
    w.close()


def losses():
    # Each: the mean-reduced loss value and d loss / d y.
    w = Writer("losses.txt")
    y = torch.randn(4, 3, requires_grad=True)
    t = torch.randn(4, 3)
    loss = F.mse_loss(y, t)
    loss.backward()
    w.add("mse/y", y); w.add("mse/t", t); w.add("mse/loss", loss); w.add("mse/dy", y.grad)

    logits = 2 * torch.randn(4, 5)
    labels = torch.tensor([3, 0, 4, 1])
    w.add("cross_entropy/y", logits); w.add("cross_entropy/t", labels)
    for s in (0.0, 0.1):
        y = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(y, labels, label_smoothing=s)
        loss.backward()
        w.add("cross_entropy_s%g/loss" % s, loss); w.add("cross_entropy_s%g/dy" % s, y.grad)

    y = (2 * torch.randn(4, 3)).requires_grad_(True)
    t = torch.rand(4, 3)
    loss = F.binary_cross_entropy_with_logits(y, t)
    loss.backward()
    w.add("bce_with_logits/y", y); w.add("bce_with_logits/t", t)
    w.add("bce_with_logits/loss", loss); w.add("bce_with_logits/dy", y.grad)
    w.close()


def optimizers():
    # p0 (8) and grads (10, 8); <config>/p (10, 8) holds the parameters after each step.
    w = Writer("optim.txt")
    p0 = torch.randn(8)
    grads = torch.randn(10, 8)
    w.add("p0", p0); w.add("grads", grads)
    SGD, Adam, AdamW = torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW
    configs = [
        ("sgd", SGD, dict(lr=0.1)),
        ("sgd_momentum_wd", SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        ("sgd_momentum_dampening", SGD, dict(lr=0.1, momentum=0.9, dampening=0.1)),
        ("sgd_nesterov", SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("adam", Adam, dict(lr=1e-2)),
        ("adam_wd", Adam, dict(lr=1e-2, weight_decay=0.1)),
        ("adamw", AdamW, dict(lr=1e-2)),
        ("adamw_custom", AdamW, dict(lr=1e-2, weight_decay=0.1, betas=(0.8, 0.99), eps=1e-6)),
    ]
    for name, cls, kw in configs:
        p = torch.nn.Parameter(p0.clone())
        opt = cls([p], **kw)
        after = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            after.append(p.detach().clone())
        w.add(name + "/p", torch.stack(after))
    w.close()


def mlp():
    # Linear(6, 5), ReLU, Linear(5, 3); batch 4; cross-entropy on integer labels.
    w = Writer("mlp.txt")
    l1, l2 = torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)
    x = torch.randn(4, 6, requires_grad=True)
    t = torch.tensor([2, 0, 1, 2])
    logits = l2(F.relu(l1(x)))
    loss = F.cross_entropy(logits, t)
    loss.backward()
    w.add("x", x); w.add("t", t)
    w.add("w1", l1.weight); w.add("b1", l1.bias); w.add("w2", l2.weight); w.add("b2", l2.bias)
    w.add("logits", logits); w.add("loss", loss); w.add("dx", x.grad)
    w.add("dw1", l1.weight.grad); w.add("db1", l1.bias.grad)
    w.add("dw2", l2.weight.grad); w.add("db2", l2.bias.grad)
    w.close()


if __name__ == "__main__":
    torch.manual_seed(20240611)
    os.makedirs(DATA, exist_ok=True)
    for make in (dense, activations, flatten, losses, optimizers, mlp):
        make()
