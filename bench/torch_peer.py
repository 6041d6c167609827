#!/usr/bin/python3
"""The PyTorch peer of the gopherdl benchmark: the article's CNN, the same shapes and
batch, SGD lr 0.01, on random data built before the clock starts. Training steps are
zero_grad, forward, loss, backward, step; inference steps are forward and log_softmax
under no_grad. Prints one JSON line:
{"train_images_per_second", "eval_images_per_second", "peak_rss_mb"}.

    torch_peer.py CHANNELS HEIGHT WIDTH [--batch 64] [--steps 60] [--threads 2]
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, c, h, w, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))  # logits, as CrossEntropyLoss wants


def main():
    p = argparse.ArgumentParser()
    p.add_argument("c", type=int)
    p.add_argument("h", type=int)
    p.add_argument("w", type=int)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Net(a.c, a.h, a.w)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    batches = [(torch.randn(a.batch, a.c, a.h, a.w), torch.randint(0, 10, (a.batch,))) for _ in range(8)]

    def train_steps(n):
        model.train()
        for i in range(n):
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

    train_steps(5)  # warm-up
    t = time.perf_counter()
    train_steps(a.steps)
    train_ips = a.steps * a.batch / (time.perf_counter() - t)

    model.eval()
    with torch.no_grad():
        for x, _ in batches[:2]:
            F.log_softmax(model(x), dim=1)
        t = time.perf_counter()
        for i in range(a.steps):
            F.log_softmax(model(batches[i % len(batches)][0]), dim=1)  # as the Go side's inference graph
        eval_ips = a.steps * a.batch / (time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"train_images_per_second": train_ips, "eval_images_per_second": eval_ips, "peak_rss_mb": rss}))


if __name__ == "__main__":
    main()
