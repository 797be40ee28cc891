"""W1/W2 peer: one epoch of plain SGD (lr 0.01, no shuffling, float64) on the
60,000 Fashion-MNIST training images with PyTorch, the same network, weights
and batches as bench/w12_mlp.c. The data is loaded before the clock starts.

A step is what PyTorch needs and no more: two addmm and a relu forward,
cross_entropy, backward into fresh gradients (p.grad = None, so autograd
hands its buffers over instead of adding into old ones), and an in-place
update per parameter. Two ways to feed the batch (VARIANT):

  view    (the default) the batch is a view of the rows, no copy
  gather  the batch is gathered into a fresh contiguous tensor
          (index_select), as chainrule copies each batch

Usage: w12_mlp.py DATA_DIR ARCH BATCH TORCH_THREADS [VARIANT]
(BLAS threads from OPENBLAS_NUM_THREADS, read when torch loads OpenBLAS)."""
import gzip, json, math, sys, time
import torch
import torch.nn.functional as F
from bench_util import weight

data_dir, arch, batch, tthreads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
variant = sys.argv[5] if len(sys.argv) > 5 else "view"
if variant not in ("view", "gather"):
    sys.exit("w12_mlp.py: VARIANT is view or gather")
torch.set_num_threads(tthreads)
w = [int(v) for v in arch.split(",")]


def idx(path, skip):
    with gzip.open(path, "rb") as f:
        return f.read()[skip:]


img = idx(data_dir + "/train-images-idx3-ubyte.gz", 16)
lab = idx(data_dir + "/train-labels-idx1-ubyte.gz", 8)
rows = len(lab)
x = torch.frombuffer(bytearray(img), dtype=torch.uint8).reshape(rows, 784).to(torch.float64) / 255.0
y = torch.frombuffer(bytearray(lab), dtype=torch.uint8).to(torch.int64)

params, k, flops_per_row = [], 0, 0.0
for l in range(1, len(w)):
    n = w[l - 1] * w[l]
    v = [weight(k + i) / math.sqrt(w[l - 1]) for i in range(n)]
    k += n
    params.append(torch.tensor(v, dtype=torch.float64).reshape(w[l - 1], w[l]).requires_grad_())
    params.append(torch.zeros(w[l], dtype=torch.float64, requires_grad=True))
    flops_per_row += 2.0 * n * (2 if l == 1 else 3)
lr = 0.01
L = len(w) - 1

order = torch.arange(rows)
t0 = time.perf_counter()
total = 0.0
for first in range(0, rows, batch):
    if variant == "gather":
        xb = x.index_select(0, order[first:first + batch])
    else:
        xb = x[first:first + batch]
    yb = y[first:first + batch]
    h = xb
    for l in range(L):
        h = torch.addmm(params[2 * l + 1], h, params[2 * l])
        if l < L - 1:
            h = torch.relu(h)
    loss = F.cross_entropy(h, yb)
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=lr)
    total += loss.item() * len(yb)
t1 = time.perf_counter()
secs = t1 - t0
print(json.dumps({"bench": "W1" if L == 2 else "W2", "side": "pytorch", "threads": tthreads,
                  "variant": variant,
                  "rows": rows, "seconds": secs, "per_second": rows / secs,
                  "gflops": flops_per_row * rows / secs * 1e-9, "epoch_loss": total / rows}))
