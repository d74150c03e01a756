"""scripts/torch_models.py: the examples' models in PyTorch, built from the same blocks so that
state_dict names and shapes are typenet's (io/model.hpp), and Fashion-MNIST read as data/idx.hpp
reads it. Used by scripts/compare-torch and scripts/torch-interop."""
import gzip
import os
import struct
import sys

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530          # of Fashion-MNIST's training images, as the examples


def torch_resnet():
    """examples/resnet_fashion.cpp: a 3x3 stem, three stages of two basic blocks, global average pool."""
    from torch import nn

    class Block(nn.Module):                  # x + f(x); a strided 1x1 projection when the shape changes
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout),
                                      nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout))
            self.shortcut = (nn.Identity() if stride == 1 and cin == cout else
                             nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.BatchNorm2d(cout)))

        def forward(self, x):
            return self.body(x) + self.shortcut(x)

    class GlobalAvgPool(nn.Module):          # typenet's global_avg_pool: (C, H, W) -> (C), one module
        def forward(self, x):
            return x.mean((2, 3))

    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         Block(16, 16, 1), nn.ReLU(), Block(16, 16, 1), nn.ReLU(),
                         Block(16, 32, 2), nn.ReLU(), Block(32, 32, 1), nn.ReLU(),
                         Block(32, 64, 2), nn.ReLU(), Block(64, 64, 1), nn.ReLU(),
                         GlobalAvgPool(), nn.Linear(64, 10))


def torch_model(name):
    from torch import nn
    if name == "resnet":
        return torch_resnet()
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


# ---- data: IDX files, read as data/idx.hpp reads them ---------------------------------------------
def read_idx(path, magic):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = magic & 0xFF
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        sys.exit(f"{path}: magic {found:#x}, expected {magic:#x}")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    header = 4 + 4 * ndim
    count = 1
    for d in dims:
        count *= d
    if len(raw) - header != count:
        sys.exit(f"{path}: expected {count} bytes after the header, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_split(data_dir, prefix):
    import numpy as np
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 0x00000803)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 0x00000801)
    x = images.reshape(len(images), 1, 28, 28).astype(np.float32) / np.float32(255)
    x = (x - np.float32(PIXEL_MEAN)) / np.float32(PIXEL_STD)
    return x, labels.astype(np.int64)


