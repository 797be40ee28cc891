"""W3 peer: the article's 3-7-5-4-1 sigmoid network in PyTorch float64, batch 1,
500 SGD steps (lr 0.7) on 1/2 (y - d)^2, same initial weights as
bench/w3_article_mlp.c. Prints one JSON line like the C side."""
import json, sys, time
import torch
from bench_util import weight

torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
iters = int(sys.argv[1]) if len(sys.argv) > 1 else 500
sizes = [3, 7, 5, 4, 1]
k = 0
params = []
for l in range(4):
    w = [weight(k + i) for i in range(sizes[l] * sizes[l + 1])]
    k += len(w)
    b = [weight(k + i) for i in range(sizes[l + 1])]
    k += len(b)
    params.append(torch.tensor(w, dtype=torch.float64).reshape(sizes[l], sizes[l + 1]).requires_grad_())
    params.append(torch.tensor(b, dtype=torch.float64).requires_grad_())
x = torch.tensor([0.1, 0.4, 4.1], dtype=torch.float64)
y = torch.tensor([0.2], dtype=torch.float64)
lr = 0.7

def loss_fn():
    h = x
    for l in range(4):
        h = torch.sigmoid(h @ params[2 * l] + params[2 * l + 1])
    return 0.5 * ((y - h) ** 2).sum()

t0 = time.perf_counter()
for _ in range(iters):
    loss = loss_fn()
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
t1 = time.perf_counter()
with torch.no_grad():
    final = loss_fn().item()
print(json.dumps({"bench": "W3", "side": "pytorch", "iterations": iters, "seconds": t1 - t0,
                  "per_second": iters / (t1 - t0), "final_loss": final}))
