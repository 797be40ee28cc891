"""W4 peer: the scalar MLP 128-168-168-1 of bench/w4_scalar_graph.c in PyTorch,
float64, one thread, the same weights and the same loss (y - t)^2.

  ops  (the default) every input and weight a 0-dim tensor and each neuron
       built as micrograd does, acc = b; acc = acc + x_i * w_i; sigmoid(acc):
       the same 100,131 op nodes as chainrule's graph (counted below from
       the autograd graph, leaves not counted)
  sop  the equally compact graph: per layer one torch.stack of its inputs,
       per neuron torch.sigmoid(torch.dot(x, w) + b) with w one 1-D leaf

Times build + forward; the first backward (retain_graph=True, so that the
graph can be re-run); a re-run of the backward on the same graph; and the
steady state of eager PyTorch, which has no forward re-run: the op nodes
built again on the same leaves (forward) and a backward, as in a training
step. Prints one JSON line like the C side.

Usage: w4_scalar_graph.py [ops|sop]"""
import gc, json, sys, time
import torch
from bench_util import W4_SIZES, weight

torch.set_num_threads(1)
mode = sys.argv[1] if len(sys.argv) > 1 else "ops"
if mode not in ("ops", "sop"):
    sys.exit("usage: w4_scalar_graph.py [ops|sop]")
sizes = W4_SIZES
f64 = torch.float64


def make_leaves():
    """The inputs, the target and per neuron its weights and bias (leaves);
    building them is part of building the graph, as on the C side."""
    xs = [torch.tensor(weight(1000000 + i), dtype=f64) for i in range(sizes[0])]
    layers, k = [], 0
    for l in range(3):
        n, neurons = sizes[l], []
        for j in range(sizes[l + 1]):
            if mode == "sop":
                w = torch.tensor([weight(k + i) for i in range(n)], dtype=f64, requires_grad=True)
            else:
                w = [torch.tensor(weight(k + i), dtype=f64, requires_grad=True) for i in range(n)]
            neurons.append((w, torch.tensor(weight(k + n), dtype=f64, requires_grad=True)))
            k += n + 1
        layers.append(neurons)
    return xs, layers, torch.tensor(0.25, dtype=f64)


def forward(xs, layers, t):
    """The loss, its value computed as its op nodes are built."""
    prev = xs
    for neurons in layers:
        nxt = []
        if mode == "sop":
            x = torch.stack(prev)
            for w, b in neurons:
                nxt.append(torch.sigmoid(torch.dot(x, w) + b))
        else:
            for ws, b in neurons:
                acc = b
                for xi, wi in zip(prev, ws):
                    acc = acc + xi * wi
                nxt.append(torch.sigmoid(acc))
        prev = nxt
    return (prev[0] - t) ** 2


def parameters(layers):
    for neurons in layers:
        for w, b in neurons:
            yield from (w if mode == "ops" else [w])
            yield b


def op_nodes(loss):
    """The autograd graph's op nodes (AccumulateGrad, the leaves, excluded)."""
    seen, stack = set(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return sum(1 for fn in seen if type(fn).__name__ != "AccumulateGrad")


t0 = time.perf_counter()
xs, layers, t = make_leaves()
loss = forward(xs, layers, t)
t1 = time.perf_counter()
loss.backward(retain_graph=True)
t2 = time.perf_counter()
for p in parameters(layers):
    p.grad = None
loss.backward(retain_graph=True)
t3 = time.perf_counter()
out = loss.item()
gsum = sum(p.grad.sum().item() for p in parameters(layers))
nodes = op_nodes(loss)
del loss
for p in parameters(layers):
    p.grad = None
gc.collect()
# the steady state: a training step rebuilds the graph on the same leaves
t4 = time.perf_counter()
loss = forward(xs, layers, t)
loss.backward()
t5 = time.perf_counter()
print(json.dumps({"bench": "W4", "side": "pytorch", "graph": mode, "op_nodes": nodes,
                  "build_forward_s": t1 - t0, "backward_s": t2 - t1,
                  "rerun_backward_s": t3 - t2, "step_s": t5 - t4, "output": out,
                  "grad_sum": gsum}))
