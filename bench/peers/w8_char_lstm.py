"""W8 peer: the character LSTM of bench/w8_char_lstm.c in PyTorch float64:
the bytes of a text file in windows of 64 that follow each other (ids in
increasing byte order), the last tenth held out; nn.Embedding(V, 32),
nn.LSTM(32, UNITS, batch_first=True), nn.Linear(UNITS, V); cross-entropy
per position, Adam lr 0.003 with gradient clipping at norm 5, batch 32,
shuffled windows. The weights are PyTorch's own initialisation (the
figures compared are samples/s, and the validation loss as a sanity
check). Prints one JSON line.

Usage: w8_char_lstm.py TEXT EPOCHS UNITS TORCH_THREADS"""
import json, sys, time
import torch

path, epochs, units, tthreads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(tthreads)
torch.manual_seed(1)
SEQ, BATCH = 64, 32
data = open(path, "rb").read()
vocab = sorted(set(data))
ids = torch.tensor([vocab.index(b) for b in data], dtype=torch.int64)
rows = (len(ids) - SEQ - 1) // SEQ + 1
x = torch.stack([ids[i * SEQ:i * SEQ + SEQ] for i in range(rows)])
y = torch.stack([ids[i * SEQ + 1:i * SEQ + SEQ + 1] for i in range(rows)])
n_val = rows // 10
n_train = rows - n_val
V = len(vocab)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, 32)
        self.lstm = torch.nn.LSTM(32, units, batch_first=True)
        self.out = torch.nn.Linear(units, V)

    def forward(self, x):
        return self.out(self.lstm(self.embed(x))[0])


net = Net().double()
opt = torch.optim.Adam(net.parameters(), lr=0.003)
t0 = time.perf_counter()
for epoch in range(epochs):
    order = torch.randperm(n_train)
    for first in range(0, n_train, BATCH):
        idx = order[first:first + BATCH]
        logits = net(x[idx])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y[idx].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
secs = time.perf_counter() - t0
with torch.no_grad():
    logits = net(x[n_train:])
    val = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y[n_train:].reshape(-1)).item()
print(json.dumps({"bench": "W8", "side": "pytorch", "threads": tthreads, "units": units,
                  "epochs": epochs, "train_windows": n_train, "seconds": secs,
                  "per_second": n_train * epochs / secs, "val_loss": val}))
