"""W7 peer: the Fashion-MNIST CNN of the README trained with PyTorch in
float64, as a PyTorch user who cared would write it and as `chainrule train
--layers` trains it:

  conv2d:32,3x3,pad=1 relu maxpool:2 conv2d:64,3x3,pad=1 relu maxpool:2
  flatten dense:128 relu dropout:0.3 dense:10

nn.Sequential of the same layers (PyTorch's default initialisation; the
weights differ from chainrule's, the work does not), Adam (lr 0.001),
softmax cross-entropy, shuffled batches. The images stay uint8 and each
batch is scaled to [0, 1] in float64 as it is used (as chainrule train
does). The data is read before the clock starts; each epoch is timed on its
own, the model in training mode (dropout on). Prints one JSON line:
samples/s of every epoch and of the best one ("per_second"), the last
epoch's mean batch loss and, with TEST != 0, the test accuracy (not timed).

Usage: w7_cnn.py DATA_DIR TORCH_THREADS [EPOCHS [ROWS [BATCH [TEST]]]]
  EPOCHS 1, ROWS 0 (all 60,000), BATCH 64, TEST 0
(BLAS threads from OPENBLAS_NUM_THREADS, read when torch loads OpenBLAS)."""
import gzip, json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

a = sys.argv[1:] + [None] * 6
data_dir, tthreads = a[0], int(a[1])
epochs = int(a[2] or 1)
limit = int(a[3] or 0)
batch = int(a[4] or 64)
test = int(a[5] or 0)
torch.set_num_threads(tthreads)
torch.manual_seed(1)


def idx(name, skip):
    with gzip.open(data_dir + "/" + name, "rb") as f:
        return bytearray(f.read()[skip:])


def images_labels(prefix):
    lab = idx(prefix + "-labels-idx1-ubyte.gz", 8)
    img = torch.frombuffer(idx(prefix + "-images-idx3-ubyte.gz", 16), dtype=torch.uint8)
    return img.reshape(len(lab), 1, 28, 28), torch.frombuffer(lab, dtype=torch.uint8).long()


x, y = images_labels("train")
if limit:
    x, y = x[:limit], y[:limit]
rows = len(y)

model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
    nn.Linear(128, 10)).double()
opt = torch.optim.Adam(model.parameters(), lr=0.001)

rates, loss_sum = [], 0.0
for epoch in range(epochs):
    model.train()
    order = torch.randperm(rows)
    loss_sum, steps = 0.0, 0
    t0 = time.perf_counter()
    for first in range(0, rows, batch):
        sel = order[first:first + batch]
        xb = x[sel].to(torch.float64).div_(255.0)
        loss = F.cross_entropy(model(xb), y[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.item()
        steps += 1
    rates.append(rows / (time.perf_counter() - t0))
    loss_sum /= steps

out = {"bench": "W7", "side": "pytorch", "threads": tthreads, "rows": rows, "batch": batch,
       "epochs": epochs, "epoch_per_second": rates, "per_second": max(rates),
       "epoch_loss": loss_sum}
if test:
    xt, yt = images_labels("t10k")
    model.eval()
    correct = 0
    with torch.no_grad():
        for first in range(0, len(yt), 256):
            out_b = model(xt[first:first + 256].to(torch.float64).div_(255.0))
            correct += (out_b.argmax(1) == yt[first:first + 256]).sum().item()
    out["test_accuracy"] = correct / len(yt)
print(json.dumps(out))
