"""W5 peer: the whole process of `chainrule train --idx-images ... --arch
784,128,10 --epochs 1 --batch 64 --opt sgd --lr 0.01 --quiet` written as a
PyTorch user who cared would: read the gzip'd IDX files, keep the images as
bytes (uint8) and scale each batch to [0, 1] in float64 as it is used (as
chainrule train does), train one epoch of plain SGD on shuffled batches of
64 (ReLU, softmax cross-entropy, He-normal weights, zero biases), then
evaluate the loss and accuracy on the training rows, as chainrule train
does. Run under /usr/bin/time -v by bench/run.py for wall time and peak
memory; it also prints how long `import torch` took and how long the rest
did, so that the driver can tell PyTorch's start-up from its work.

Usage: w5_train.py DATA_DIR TORCH_THREADS"""
import time

T0 = time.perf_counter()
import gzip, json, sys  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

T1 = time.perf_counter()
data_dir, tthreads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(tthreads)
torch.manual_seed(1)


def idx(path, skip):
    with gzip.open(path, "rb") as f:
        return bytearray(f.read()[skip:])


lab = idx(data_dir + "/train-labels-idx1-ubyte.gz", 8)
rows = len(lab)
images = torch.frombuffer(idx(data_dir + "/train-images-idx3-ubyte.gz", 16), dtype=torch.uint8)
images = images.reshape(rows, 784)
y = torch.frombuffer(lab, dtype=torch.uint8).to(torch.int64)


def batch_of(sel):
    """Rows sel (a slice or an index tensor) as float64 in [0, 1]."""
    return images[sel].to(torch.float64).div_(255.0)


w = [784, 128, 10]
params = []
for l in range(1, len(w)):
    params.append((torch.randn(w[l - 1], w[l], dtype=torch.float64)
                   * (2.0 / w[l - 1]) ** 0.5).requires_grad_())
    params.append(torch.zeros(w[l], dtype=torch.float64, requires_grad=True))


def forward(xb):
    h = torch.relu(torch.addmm(params[1], xb, params[0]))
    return torch.addmm(params[3], h, params[2])


lr, batch = 0.01, 64
order = torch.randperm(rows)
for first in range(0, rows, batch):
    sel = order[first:first + batch]
    loss = F.cross_entropy(forward(batch_of(sel)), y[sel])
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=lr)
with torch.no_grad():
    total, correct = 0.0, 0
    for first in range(0, rows, 256):
        out = forward(batch_of(slice(first, first + 256)))
        total += F.cross_entropy(out, y[first:first + 256], reduction="sum").item()
        correct += (out.argmax(1) == y[first:first + 256]).sum().item()
T2 = time.perf_counter()
print(json.dumps({"bench": "W5", "side": "pytorch", "loss": total / rows,
                  "accuracy": correct / rows, "import_s": T1 - T0, "after_import_s": T2 - T1}))
