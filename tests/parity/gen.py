#!/usr/bin/python3
"""tests/parity/gen.py: PyTorch reference values for typenet's layer (dense, activations, flatten,
conv2d, pooling), loss, optimizer, MLP and LeNet training tests.

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


def dyadic(shape, scale, k):
    # Small dyadic rationals j / scale, |j| <= k: every product and sum below is exact in float64 and
    # prints short, which keeps the conv and pool files small.
    return torch.randint(-k, k + 1, shape).to(torch.float64) / scale


def distinct(shape, scale):
    # A random permutation of distinct multiples of 1 / scale: no ties in a max-pool window.
    n = 1
    for d in shape:
        n *= d
    return (torch.randperm(n).to(torch.float64) - n // 2).reshape(shape) / scale


def conv2d():
    # torch.nn.Conv2d: w (Out, C/G, K, K), b (Out); x (B, C, H, W). One writer, a prefix per case.
    torch.manual_seed(20240612)
    w = Writer("conv2d.txt")
    cases = [
        # name, B, C, H, W, Out, K, padding, stride, dilation, groups
        ("plain", 2, 3, 7, 7, 4, 3, 0, 1, 1, 1),
        ("pad2_stride2", 2, 3, 7, 7, 4, 3, 2, 2, 1, 1),
        ("dil2_pad1", 2, 3, 7, 7, 4, 3, 1, 1, 2, 1),
        ("groups2", 2, 4, 7, 7, 6, 3, 0, 1, 1, 2),
        ("k5_pad2", 2, 1, 8, 8, 2, 5, 2, 1, 1, 1),
    ]
    for name, B, C, H, W, O, K, P, S, D, G in cases:
        conv = torch.nn.Conv2d(C, O, K, stride=S, padding=P, dilation=D, groups=G)
        with torch.no_grad():
            conv.weight.copy_(dyadic(conv.weight.shape, 8, 8))
            conv.bias.copy_(dyadic(conv.bias.shape, 8, 8))
        x = dyadic((B, C, H, W), 4, 8).requires_grad_(True)
        y = conv(x)
        dy = dyadic(y.shape, 4, 8)
        y.backward(dy)
        for k, v in (("x", x), ("w", conv.weight), ("b", conv.bias), ("dy", dy), ("y", y), ("dx", x.grad),
                     ("dw", conv.weight.grad), ("db", conv.bias.grad)):
            w.add(name + "/" + k, v)
    w.close()


def pool():
    # MaxPool2d / AvgPool2d without padding, and the global average (mean over H, W).
    torch.manual_seed(20240613)
    w = Writer("pool.txt")
    cases = [
        # name, fn, B, C, H, W
        ("max_k2", lambda v: F.max_pool2d(v, 2), 2, 2, 6, 6),
        ("max_k3_s2", lambda v: F.max_pool2d(v, 3, 2), 2, 2, 7, 7),
        ("avg_k2", lambda v: F.avg_pool2d(v, 2), 2, 2, 6, 6),
        ("avg_k3_s1", lambda v: F.avg_pool2d(v, 3, 1), 2, 2, 5, 5),
        ("global_avg", lambda v: v.mean(dim=(2, 3)), 2, 3, 4, 5),
    ]
    for name, fn, B, C, H, W in cases:
        x = distinct((B, C, H, W), 16).requires_grad_(True)
        y = fn(x)
        dy = dyadic(y.shape, 4, 8)
        y.backward(dy)
        w.add(name + "/x", x); w.add(name + "/dy", dy); w.add(name + "/y", y); w.add(name + "/dx", x.grad)
    w.close()


MASK64 = (1 << 64) - 1


def splitmix64(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def hash_uniform(stream, n):
    # u_i = splitmix64(stream * 2^32 + i) >> 11, times 2^-53: in [0, 1), exact in float64 and written
    # the same way in tests/parity/lenet_test.cpp, so the large tensors need not be stored.
    base = stream << 32
    return torch.tensor([(splitmix64(base + i) >> 11) * 2.0 ** -53 for i in range(n)], dtype=torch.float64)


def lenet():
    # LeNet-5 (typenet's layer list) trained by SGD(lr 0.05, momentum 0.9) with CrossEntropyLoss.
    # Too big to store, the initial parameters and the inputs come from hash_uniform: parameter
    # tensor j (w then b of each layer, typenet's order) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    # torch's default init, drawn as bound * (2 u - 1) from stream j + 1; the inputs of all steps are
    # stream 100, x[s, b, 0, i, j] in [0, 1). Stored: labels, a checksum of the parameters and
    # inputs, the loss of each step (before its update) and per-tensor sums (and sums of squares) of
    # the final parameters.
    steps, B = 50, 8
    w = Writer("lenet.txt")
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))
    params = list(model.parameters())
    with torch.no_grad():
        for j, p in enumerate(params):
            weight = params[j - (j % 2)]
            fan_in = weight[0].numel()
            bound = 1.0 / fan_in ** 0.5
            u = hash_uniform(j + 1, p.numel())
            p.copy_((bound * (2 * u - 1)).reshape(p.shape))
    x_all = hash_uniform(100, steps * B * 28 * 28).reshape(steps, B, 1, 28, 28)
    labels = (hash_uniform(101, steps * B) * 10).floor().reshape(steps, B)
    w.add("labels", labels)
    w.add("param_sums0", torch.stack([p.detach().sum() for p in params]))   # (10): w, b of each layer
    w.add("x_sum", x_all.sum())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for s in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x_all[s]), labels[s].long())
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    w.add("loss", torch.stack(losses))
    # Sums of squares too: the last layer's plain sums do not move (softmax gradients sum to 0).
    w.add("param_sums", torch.stack([p.detach().sum() for p in params]))
    w.add("param_sq_sums", torch.stack([(p.detach() ** 2).sum() for p in params]))
    w.close()



def norm():
    # torch.nn.BatchNorm2d(3) on (4, 3, 4, 5) and BatchNorm1d(6) on (5, 6) in training (batch
    # statistics; running statistics after 1 and 3 passes, momentum 0.1 and 0.3), BatchNorm2d in
    # evaluation with given running statistics, LayerNorm(7) on (3, 2, 7). Eps 1e-5 throughout.
    gen = torch.Generator().manual_seed(20240620)

    def dy_(shape, scale, k):
        return torch.randint(-k, k + 1, shape, generator=gen).to(torch.float64) / scale

    w = Writer("norm.txt")

    def run(name, layer, x, params=True):
        x = x.clone().requires_grad_(True)
        y = layer(x)
        dy = dy_(y.shape, 4, 8)
        y.backward(dy)
        w.add(name + "/x", x); w.add(name + "/dy", dy)
        if params:
            w.add(name + "/gamma", layer.weight); w.add(name + "/beta", layer.bias)
        w.add(name + "/y", y); w.add(name + "/dx", x.grad)
        w.add(name + "/dgamma", layer.weight.grad); w.add(name + "/dbeta", layer.bias.grad)

    def set_affine(layer, n):
        with torch.no_grad():
            layer.weight.copy_(dy_((n,), 8, 16))     # gamma: non-trivial, may be negative
            layer.bias.copy_(dy_((n,), 8, 16))

    # BatchNorm2d, training: y, dx, dgamma, dbeta of the first pass, then the running statistics.
    xs = [dy_((4, 3, 4, 5), 4, 8) for _ in range(3)]
    for m, tag in ((0.1, "m01"), (0.3, "m03")):
        bn = torch.nn.BatchNorm2d(3, momentum=m)
        set_affine(bn, 3)
        bn.train()
        if tag == "m01":
            run("bn2d_train", bn, xs[0])
        else:
            bn(xs[0])
        w.add("bn2d_" + tag + "/running_mean1", bn.running_mean)
        w.add("bn2d_" + tag + "/running_var1", bn.running_var)
        with torch.no_grad():
            bn(xs[1]); bn(xs[2])
        w.add("bn2d_" + tag + "/running_mean3", bn.running_mean)
        w.add("bn2d_" + tag + "/running_var3", bn.running_var)
    w.add("bn2d_train/x2", xs[1]); w.add("bn2d_train/x3", xs[2])

    # BatchNorm2d, evaluation: normalised with the given running statistics (constants in backward).
    bn = torch.nn.BatchNorm2d(3)
    set_affine(bn, 3)
    with torch.no_grad():
        bn.running_mean.copy_(dy_((3,), 8, 8))
        bn.running_var.copy_(torch.randint(1, 17, (3,), generator=gen).to(torch.float64) / 8)
    bn.eval()
    w.add("bn2d_eval/running_mean", bn.running_mean); w.add("bn2d_eval/running_var", bn.running_var)
    run("bn2d_eval", bn, dy_((2, 3, 2, 3), 4, 8))

    # BatchNorm1d on features, training.
    bn = torch.nn.BatchNorm1d(6)
    set_affine(bn, 6)
    bn.train()
    run("bn1d_train", bn, dy_((5, 6), 4, 8))
    w.add("bn1d_train/running_mean1", bn.running_mean); w.add("bn1d_train/running_var1", bn.running_var)

    # LayerNorm over the last axis of (3, 2, 7): typenet's input<2, 7>.
    ln = torch.nn.LayerNorm(7)
    set_affine(ln, 7)
    run("ln", ln, dy_((3, 2, 7), 4, 8))
    w.close()


def optim2():
    # RMSprop, learning-rate schedules and gradient clipping. Its own generator, so the files
    # above are unchanged. p0 (8) and grads (10, 8) as in optimizers(); <config>/p (10, 8) holds
    # the parameters after each step. Schedules: base lr 0.1, <name>/lr (30) is the lr in use for
    # epochs 0..29 (scheduler.step() after each); the plateau's lr is read after each
    # step(metric). Clipping: w (2, 3) and b (2) gradients, typenet's dense<2> on input<3> layout,
    # flattened: <case>/g before, <case>/norm returned, <case>/clipped after.
    gen = torch.Generator().manual_seed(20240621)
    w = Writer("optim2.txt")
    p0 = torch.randn(8, generator=gen)
    grads = torch.randn(10, 8, generator=gen)
    w.add("p0", p0); w.add("grads", grads)
    configs = [
        ("rmsprop", dict()),
        ("rmsprop_momentum", dict(momentum=0.9)),
        ("rmsprop_centered", dict(centered=True)),
        ("rmsprop_wd_momentum_centered", dict(weight_decay=0.1, momentum=0.5, centered=True)),
    ]
    for name, kw in configs:
        p = torch.nn.Parameter(p0.clone())
        opt = torch.optim.RMSprop([p], **kw)
        after = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            after.append(p.detach().clone())
        w.add(name + "/p", torch.stack(after))

    S = torch.optim.lr_scheduler
    schedules = [
        ("step_lr", lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
        ("exponential_lr", lambda o: S.ExponentialLR(o, gamma=0.9)),
        ("cosine_lr", lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=1e-4)),
    ]
    for name, make in schedules:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = make(opt)
        lrs = []
        for _ in range(30):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        w.add(name + "/lr", torch.tensor(lrs))

    # Improves, stalls (1.0 * (1 - 1e-4) is not better than 1.0 under the rel threshold), improves
    # by little and by much, then stalls long enough to reach min_lr in the second case.
    metrics = [1.0, 0.9, 0.8, 0.8, 0.85, 0.8, 0.79995, 0.7, 0.7, 0.69999, 0.7, 0.5, 0.6, 0.55, 0.5,
               0.5, 0.4, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.3, 0.45, 0.45, 0.45]
    w.add("plateau/metric", torch.tensor(metrics))
    for name, kw in (("plateau", dict(factor=0.5, patience=2)),
                     ("plateau_min_lr", dict(factor=0.5, patience=2, min_lr=0.02))):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = S.ReduceLROnPlateau(opt, **kw)
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        w.add(name + "/lr", torch.tensor(lrs))

    for name, scale, max_norm in (("clip", 3.0, 1.0), ("noclip", 0.1, 100.0)):
        pw = torch.nn.Parameter(torch.zeros(2, 3))
        pb = torch.nn.Parameter(torch.zeros(2))
        pw.grad = scale * torch.randn(2, 3, generator=gen)
        pb.grad = scale * torch.randn(2, generator=gen)
        w.add(name + "/g", torch.cat([pw.grad.reshape(-1), pb.grad]))
        w.add(name + "/max_norm", torch.tensor(max_norm))
        norm = torch.nn.utils.clip_grad_norm_([pw, pb], max_norm)
        w.add(name + "/norm", norm)
        w.add(name + "/clipped", torch.cat([pw.grad.reshape(-1), pb.grad]))
    pw = torch.nn.Parameter(torch.zeros(2, 3))
    pb = torch.nn.Parameter(torch.zeros(2))
    pw.grad = torch.randn(2, 3, generator=gen)
    pb.grad = torch.randn(2, generator=gen)
    w.add("clip_value/g", torch.cat([pw.grad.reshape(-1), pb.grad]))
    torch.nn.utils.clip_grad_value_([pw, pb], 0.5)
    w.add("clip_value/clipped", torch.cat([pw.grad.reshape(-1), pb.grad]))
    w.close()


def conv_transpose2d():
    # torch.nn.ConvTranspose2d: w (C, Out/G, K, K), b (Out); x (B, C, H, W). Its own generator and
    # file, so the files above stay byte for byte the same.
    gen = torch.Generator().manual_seed(20240622)

    def dy_(shape, scale, k):
        # dyadic(), from this generator: exact in float64 and short in print
        return torch.randint(-k, k + 1, shape, generator=gen).to(torch.float64) / scale

    w = Writer("conv_transpose2d.txt")
    cases = [
        # name, B, C, H, W, Out, K, padding, stride, output_padding, dilation, groups
        ("plain", 2, 2, 4, 5, 3, 3, 0, 1, 0, 1, 1),
        ("gan_up2", 1, 8, 7, 7, 4, 3, 1, 2, 1, 1, 1),          # (8, 7, 7) -> (4, 14, 14)
        ("dil2_pad1_op1", 2, 2, 4, 4, 2, 3, 1, 1, 1, 2, 1),    # output_padding >= stride, < dilation
        ("groups2_stride2", 2, 4, 3, 3, 4, 3, 0, 2, 0, 1, 2),
    ]
    for name, B, C, H, W, O, K, P, S, OP, D, G in cases:
        conv = torch.nn.ConvTranspose2d(C, O, K, stride=S, padding=P, output_padding=OP, dilation=D, groups=G)
        with torch.no_grad():
            conv.weight.copy_(dy_(conv.weight.shape, 4, 4))
            conv.bias.copy_(dy_(conv.bias.shape, 4, 4))
        x = dy_((B, C, H, W), 2, 4).requires_grad_(True)
        y = conv(x)
        dy = dy_(y.shape, 2, 4)
        y.backward(dy)
        for k, v in (("x", x), ("w", conv.weight), ("b", conv.bias), ("dy", dy), ("y", y), ("dx", x.grad),
                     ("dw", conv.weight.grad), ("db", conv.bias.grad)):
            w.add(name + "/" + k, v)
    w.close()


def sequence():
    """Sequence layers, each as a typenet network and its torch twin: parameters under typenet's
    names (p/<name>), x, dy, and for recurrent models the state in typenet's layout: layer after
    layer, a (B, carry) block each, a sequence's h (then c for an LSTM) in each row."""
    torch.manual_seed(20261123)
    w = Writer("sequence.txt")
    B, T = 2, 5

    def params(case, named):
        for name, t in named:
            w.add(case + "/p/" + name, t)

    def grads(case, named):
        for name, t in named:
            w.add(case + "/d/" + name, t.grad)

    # embedding<7, 3> on ids (B, T)
    emb = torch.nn.Embedding(7, 3)
    ids = torch.randint(0, 7, (B, T))
    y = emb(ids)
    dy = torch.randn_like(y)
    y.backward(dy)
    w.add("embedding/x", ids.reshape(B, T, 1)); w.add("embedding/dy", dy); w.add("embedding/y", y)
    params("embedding", [("0.weight", emb.weight)]); grads("embedding", [("0.weight", emb.weight)])

    # rnn, lstm, gru: two layers (typenet: two layers stacked), from a given state, with a
    # gradient flowing into the final state
    for kind, cls, hidden, parts in (("rnn", torch.nn.RNN, 4, 1), ("lstm", torch.nn.LSTM, 5, 2),
                                     ("gru", torch.nn.GRU, 4, 1)):
        m = cls(3, hidden, num_layers=2, batch_first=True)
        x = torch.randn(B, T, 3, requires_grad=True)
        states = [torch.randn(2, B, hidden, requires_grad=True) for _ in range(parts)]
        out = m(x, states[0] if parts == 1 else tuple(states))
        y, final = out[0], ([out[1]] if parts == 1 else list(out[1]))
        dy = torch.randn_like(y)
        dfinal = [torch.randn_like(f) for f in final]
        torch.autograd.backward([y] + final, [dy] + dfinal)

        def layout(ts):   # (layers, B, H) x parts -> layer by layer, (B, parts * H) each
            return torch.cat([torch.cat([t[l] for t in ts], dim=1).reshape(-1) for l in range(2)])

        named = []
        for l in range(2):
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                named.append(("%d.%s_l0" % (l, n), getattr(m, "%s_l%d" % (n, l))))
        w.add(kind + "/x", x); w.add(kind + "/dy", dy); w.add(kind + "/y", y); w.add(kind + "/dx", x.grad)
        w.add(kind + "/carry_in", layout(states)); w.add(kind + "/carry_out", layout(final))
        w.add(kind + "/dcarry_out", layout(dfinal)); w.add(kind + "/dcarry_in", layout([s.grad for s in states]))
        params(kind, named); grads(kind, named)

    # bidirectional<lstm<4>>: nn.LSTM(3, 4, bidirectional=True); the state is (directions, B, H)
    m = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(B, T, 3, requires_grad=True)
    states = [torch.randn(2, B, 4, requires_grad=True) for _ in range(2)]
    y, final = m(x, tuple(states))
    final = list(final)
    dy = torch.randn_like(y)
    dfinal = [torch.randn_like(f) for f in final]
    torch.autograd.backward([y] + final, [dy] + dfinal)

    def by_direction(ts):
        return torch.cat([torch.cat([t[l] for t in ts], dim=1).reshape(-1) for l in range(2)])

    named = [("0.%s_l0%s" % (n, sfx), getattr(m, "%s_l0%s" % (n, sfx)))
             for sfx in ("", "_reverse") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    w.add("bilstm/x", x); w.add("bilstm/dy", dy); w.add("bilstm/y", y); w.add("bilstm/dx", x.grad)
    w.add("bilstm/carry_in", by_direction(states)); w.add("bilstm/carry_out", by_direction(final))
    w.add("bilstm/dcarry_out", by_direction(dfinal)); w.add("bilstm/dcarry_in", by_direction([s.grad for s in states]))
    params("bilstm", named); grads("bilstm", named)

    causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)

    # causal_self_attention<3> on seq<6>: nn.MultiheadAttention(6, 3) with the causal mask
    mha = torch.nn.MultiheadAttention(6, 3, batch_first=True)
    with torch.no_grad():   # torch zeroes the biases; nonzero ones test their gradients' paths too
        mha.in_proj_bias.uniform_(-0.5, 0.5); mha.out_proj.bias.uniform_(-0.5, 0.5)
    x = torch.randn(B, T, 6, requires_grad=True)
    y = mha(x, x, x, attn_mask=causal, need_weights=False)[0]
    dy = torch.randn_like(y)
    y.backward(dy)
    named = [("0.in_proj_weight", mha.in_proj_weight), ("0.in_proj_bias", mha.in_proj_bias),
             ("0.out_proj.weight", mha.out_proj.weight), ("0.out_proj.bias", mha.out_proj.bias)]
    w.add("attention/x", x); w.add("attention/dy", dy); w.add("attention/y", y); w.add("attention/dx", x.grad)
    params("attention", named); grads("attention", named)

    # transformer_block<2, 4> on seq<8>: x + attn(ln1(x)), then + fc2(gelu(fc1(ln2(.))))
    D = 8
    ln1, ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
    att = torch.nn.MultiheadAttention(D, 2, batch_first=True)
    fc1, fc2 = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)
    with torch.no_grad():
        for ln in (ln1, ln2):
            ln.weight.uniform_(0.5, 1.5); ln.bias.uniform_(-0.5, 0.5)
        att.in_proj_bias.uniform_(-0.5, 0.5); att.out_proj.bias.uniform_(-0.5, 0.5)
    x = torch.randn(B, T, D, requires_grad=True)
    a = ln1(x)
    h = x + att(a, a, a, attn_mask=causal, need_weights=False)[0]
    y = h + fc2(F.gelu(fc1(ln2(h))))
    dy = torch.randn_like(y)
    y.backward(dy)
    named = [("0.0.body.0.weight", ln1.weight), ("0.0.body.0.bias", ln1.bias),
             ("0.0.body.1.in_proj_weight", att.in_proj_weight), ("0.0.body.1.in_proj_bias", att.in_proj_bias),
             ("0.0.body.1.out_proj.weight", att.out_proj.weight), ("0.0.body.1.out_proj.bias", att.out_proj.bias),
             ("0.1.body.0.weight", ln2.weight), ("0.1.body.0.bias", ln2.bias),
             ("0.1.body.1.weight", fc1.weight), ("0.1.body.1.bias", fc1.bias),
             ("0.1.body.3.weight", fc2.weight), ("0.1.body.3.bias", fc2.bias)]
    w.add("block/x", x); w.add("block/dy", dy); w.add("block/y", y); w.add("block/dx", x.grad)
    params("block", named); grads("block", named)

    # the sequence cross-entropy: logits (B*T, 6), labels with padding masked by ignore_index
    logits = torch.randn(B * T, 6, requires_grad=True)
    labels = torch.randint(0, 6, (B * T,))
    labels[3] = -100; labels[7] = -100
    loss = F.cross_entropy(logits, labels, ignore_index=-100)
    loss.backward()
    w.add("seq_ce/y", logits); w.add("seq_ce/t", labels); w.add("seq_ce/loss", loss); w.add("seq_ce/dy", logits.grad)
    w.close()


if __name__ == "__main__":
    torch.manual_seed(20240611)
    os.makedirs(DATA, exist_ok=True)
    for make in (dense, activations, flatten, losses, optimizers, mlp):
        make()
    # Each of these seeds its own generator, so adding one leaves the files above unchanged.
    for make in (conv2d, pool, lenet):
        make()
    norm()
    optim2()
    conv_transpose2d()
    sequence()
