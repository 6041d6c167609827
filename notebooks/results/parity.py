#!/usr/bin/python3
"""Writes notebooks/results/parity.json: the article's walkthrough on the full
Fashion-MNIST (60,000 training and 10,000 test images, Debian's
dataset-fashion-mnist), run by gopherdl (cmd/walkthrough) and by PyTorch on the same
machine, with the article's settings: the CNN of notebook 2, batch 64, SGD lr 0.01
without momentum, StepLR(step_size=7, gamma=0.1), 10 epochs, pixels scaled to [0, 1],
the test set evaluated after every epoch, as the article prints it. Notebook 3 reads
the file.

    /usr/bin/python3 notebooks/results/parity.py [--threads 2] [--skip-go] [--skip-torch]

Run from the repository root; needs Go (the Makefile's GOTOOLCHAIN) and Debian's
python3-torch. gopherdl's run goes to out/parity (--skip-go reuses its metrics.json).
The file is written once gopherdl's side is done (PyTorch's list empty), and again
with both: PyTorch's side takes the longer on two shared cores.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
OUT = "notebooks/results/parity.json"


class Net(nn.Module):
    """The article's CNN for 1x28x28 images, returning logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def idx(name, offset):
    path = os.path.join(DATA, name)
    try:
        with gzip.open(path) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    except OSError as e:
        sys.exit("parity: cannot read %s (apt-get install dataset-fashion-mnist): %s" % (path, e))


def torch_run(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.tensor(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)).float() / 255
    y = torch.tensor(idx("train-labels-idx1-ubyte.gz", 8)).long()
    tx = torch.tensor(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)).float() / 255
    ty = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", 8)).long()
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.1)
    history = []
    for epoch in range(10):
        model.train()
        for idxs in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            F.cross_entropy(model(x[idxs]), y[idxs]).backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum().item() for i in range(0, len(tx), 1000))
        history.append(correct / len(tx))
        print("pytorch epoch %d: test accuracy %.1f%%" % (epoch + 1, 100 * history[-1]), flush=True)
    return history


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-go", action="store_true")
    p.add_argument("--skip-torch", action="store_true")
    a = p.parse_args()
    metrics = "out/parity/metrics.json"
    start = time.time()
    if not a.skip_go:
        env = dict(os.environ, GOTOOLCHAIN="go1.27.3", GOEXPERIMENT="simd")
        subprocess.run(["go", "run", "./cmd/walkthrough", "-data", "fashion-mnist", "-fresh", "-out", "out/parity"], env=env, check=True)
    with open(metrics) as f:
        gopherdl = [e["eval_accuracy"] for e in json.load(f)["history"]]
    result = {
        "what": "test accuracy after each epoch on the full Fashion-MNIST, the article's settings (batch 64, SGD lr 0.01, StepLR 7/0.1, 10 epochs)",
        "command": "/usr/bin/python3 notebooks/results/parity.py",
        "gopherdl": gopherdl,
        "pytorch": [],
        "pytorch_version": torch.__version__,
        "threads": a.threads,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seconds": round(time.time() - start),
    }
    write(result)
    if not a.skip_torch:
        result["pytorch"] = torch_run(a.threads)
        result["seconds"] = round(time.time() - start)
        write(result)


def write(result):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(OUT), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(tmp, OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
