"""W4 peer: the scalar MLP of bench/w4_scalar_graph.c built micrograd-style from
PyTorch 0-dim float64 tensors (every weight its own leaf; each neuron
sigmoid(sum_i x_i w_i + b)). Times build + forward and backward."""
import json, math, sys, time
import torch

torch.set_num_threads(1)
sizes = [100, 300, 200, 1]
wt = lambda k: 0.5 * math.sin(1.3 * k + 0.1)

t0 = time.perf_counter()
prev = [torch.tensor(wt(1000000 + i), dtype=torch.float64) for i in range(sizes[0])]
params = []
k = 0
for l in range(3):
    nxt = []
    for j in range(sizes[l + 1]):
        ws = []
        for i in range(sizes[l]):
            ws.append(torch.tensor(wt(k), dtype=torch.float64, requires_grad=True))
            k += 1
        b = torch.tensor(wt(k), dtype=torch.float64, requires_grad=True)
        k += 1
        params.extend(ws)
        params.append(b)
        acc = b
        for xi, wi in zip(prev, ws):
            acc = acc + xi * wi
        nxt.append(torch.sigmoid(acc))
    prev = nxt
out = prev[0]
t1 = time.perf_counter()
out.backward()
t2 = time.perf_counter()
gsum = sum(p.grad.item() for p in params)
print(json.dumps({"bench": "W4", "side": "pytorch", "build_forward_s": t1 - t0,
                  "backward_s": t2 - t1, "output": out.item(), "grad_sum": gsum}))
