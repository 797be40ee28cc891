"""W4's third engine: what a learner would otherwise write, a minimal
plain-Python scalar autodiff Value class in micrograd's design (each value
keeps its data, its grad, its inputs and a closure that passes its grad on;
backward sorts the graph topologically, here without recursion, and calls
the closures in reverse). Written for this benchmark. __slots__ makes it a
little faster than the usual class.

Builds the ops graph of bench/w4_scalar_graph.c: a 128-168-168-1 MLP, every
input and weight a Value, each neuron acc = b; acc = acc + x_i * w_i;
sigmoid(acc), and the loss (y - t)^2: 100,131 op nodes. Times build +
forward, the first backward, a re-run of the backward on the same graph
(grads zeroed first) and the steady state, a training step's rebuild of the
op nodes on the same leaves + backward (the previous graph freed before the
clock starts, as on the PyTorch side). Prints one JSON line like the C side.

Usage: w4_value.py"""
import gc, json, math, time

from bench_util import W4_SIZES, weight


class Value:
    __slots__ = ("data", "grad", "_backward", "_prev")

    def __init__(self, data, prev=()):
        self.data = data
        self.grad = 0.0
        self._backward = None
        self._prev = prev

    def __add__(self, other):
        out = Value(self.data + other.data, (self, other))

        def backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = backward
        return out

    def __sub__(self, other):
        out = Value(self.data - other.data, (self, other))

        def backward():
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = backward
        return out

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other))

        def backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = backward
        return out

    def __pow__(self, p):
        out = Value(self.data ** p, (self,))

        def backward():
            self.grad += p * self.data ** (p - 1) * out.grad
        out._backward = backward
        return out

    def sigmoid(self):
        s = 1.0 / (1.0 + math.exp(-self.data))
        out = Value(s, (self,))

        def backward():
            self.grad += s * (1.0 - s) * out.grad
        out._backward = backward
        return out

    def topo(self):
        """Every value this one depends on, inputs before their users."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            v, expanded = stack.pop()
            if expanded:
                order.append(v)
            elif v not in seen:
                seen.add(v)
                stack.append((v, True))
                stack.extend((c, False) for c in v._prev if c not in seen)
        return order

    def backward(self):
        order = self.topo()
        self.grad = 1.0
        for v in reversed(order):
            if v._backward:
                v._backward()
        return order


sizes = W4_SIZES


def make_leaves():
    xs = [Value(weight(1000000 + i)) for i in range(sizes[0])]
    layers, k = [], 0
    for l in range(3):
        n, neurons = sizes[l], []
        for j in range(sizes[l + 1]):
            neurons.append(([Value(weight(k + i)) for i in range(n)], Value(weight(k + n))))
            k += n + 1
        layers.append(neurons)
    return xs, layers, Value(0.25)


def forward(xs, layers, t):
    prev = xs
    for neurons in layers:
        nxt = []
        for ws, b in neurons:
            acc = b
            for xi, wi in zip(prev, ws):
                acc = acc + xi * wi
            nxt.append(acc.sigmoid())
        prev = nxt
    return (prev[0] - t) ** 2


def parameters(layers):
    for neurons in layers:
        for ws, b in neurons:
            yield from ws
            yield b


t0 = time.perf_counter()
xs, layers, t = make_leaves()
loss = forward(xs, layers, t)
t1 = time.perf_counter()
order = loss.backward()
t2 = time.perf_counter()
for v in order:
    v.grad = 0.0
loss.backward()
t3 = time.perf_counter()
out = loss.data
gsum = sum(p.grad for p in parameters(layers))
nodes = sum(1 for v in order if v._prev)
del loss, order
for v in xs + [t] + list(parameters(layers)):
    v.grad = 0.0
gc.collect()  # the first graph's closures make reference cycles: freed before the clock
t4 = time.perf_counter()
loss = forward(xs, layers, t)
loss.backward()
t5 = time.perf_counter()
print(json.dumps({"bench": "W4", "side": "python", "graph": "ops", "op_nodes": nodes,
                  "build_forward_s": t1 - t0, "backward_s": t2 - t1,
                  "rerun_backward_s": t3 - t2, "step_s": t5 - t4, "output": out,
                  "grad_sum": gsum}))
