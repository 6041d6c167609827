#!/usr/bin/env python3
"""Train the article's CNN in PyTorch on Fashion-MNIST, measure its test accuracy in
PyTorch, and export it with torch.onnx.export (opset 13): the model a reader of the
article brings into gopherdl (train.Config.Init, cmd/walkthrough -init).

Writes into --out: model.onnx (ending in log_softmax, as the article's Net), logits.onnx
(the same weights without it), other.onnx (another architecture, untrained: conv1 has 16
filters), and torch.json with the accuracy PyTorch measured on the 10,000 test images
("correct", "total") and its predicted class per test image.

Needs Debian's python3-torch (apt-get install python3-torch): run with /usr/bin/python3.
The data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).

    /usr/bin/python3 tools/torch_onnx.py --out out/torch --train 60000 --epochs 1
"""
import argparse
import gzip
import json
import os
import sys

# glibc's default malloc hands PyTorch's freed tensors back to the system and maps
# large ones anew each step, which makes its training 2.5 times slower on these
# small batches (make bench measures both). The same settings as bench/'s peer (its
# TestTorchONNXUsesThePeersMalloc keeps them so);
# malloc reads them at start, so the script starts itself again with them.
MALLOC = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000"}
if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in MALLOC.items()):
    os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, **MALLOC))

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


def load(split):
    x = idx(os.path.join(DATA, f"{split}-images-idx3-ubyte.gz"), 16).reshape(-1, 1, 28, 28)
    y = idx(os.path.join(DATA, f"{split}-labels-idx1-ubyte.gz"), 8)
    # ToTensor: pixels scaled to [0, 1], channels first.
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


class Net(nn.Module):
    """The article's class Net, for 1x28x28 images (flatten 64*7*7)."""

    def __init__(self, log_softmax=True):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)
        self.log_softmax = log_softmax

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.fc2(F.relu(self.fc1(x)))
        return F.log_softmax(x, dim=1) if self.log_softmax else x


class Wide(Net):
    """Another architecture: conv1 has 16 filters (for the refusal test)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 64, 3, padding=1)


def export(model, path):
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path,
                      opset_version=13, input_names=["images"], output_names=["scores"],
                      dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=60000, help="training images used")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    model = Net()
    xtr, ytr = load("train")
    xtr, ytr = xtr[: a.train], ytr[: a.train]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for _ in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(xtr[b]), ytr[b]).backward()
            opt.step()
    model.eval()
    xte, yte = load("t10k")
    with torch.no_grad():
        pred = torch.cat([model(xte[i:i + 500]).argmax(1) for i in range(0, len(xte), 500)])
    correct = int((pred == yte).sum())
    export(model, os.path.join(a.out, "model.onnx"))
    model.log_softmax = False
    export(model, os.path.join(a.out, "logits.onnx"))
    export(Wide().eval(), os.path.join(a.out, "other.onnx"))
    with open(os.path.join(a.out, "torch.json"), "w") as f:
        json.dump({"correct": correct, "total": len(yte), "predictions": pred.tolist(),
                   "torch": torch.__version__}, f)
    print(f"PyTorch test accuracy {correct}/{len(yte)}; wrote {a.out}/model.onnx")


if __name__ == "__main__":
    main()
