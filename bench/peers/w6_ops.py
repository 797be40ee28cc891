"""W6 peer: forward + backward per second of single ops with PyTorch
(float64, torch.set_num_threads(1) by default), the same shapes, values and
loss as bench/w6_ops.c: y = op(inputs), loss = (y * G).sum() for a fixed G,
gradients to the parameters and, where the op sits inside a network, to its
input; the steps run until SECONDS have passed. Prints one JSON line per row.

Usage: w6_ops.py [SECONDS_PER_ROW] [ROW] [TORCH_THREADS]"""
import json, math, sys, time
import torch
import torch.nn.functional as F
from bench_util import weight

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
only = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "all" else None
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
torch.set_default_dtype(torch.float64)


def filled(shape, seed, grad=False):
    """bench_util.weight(seed + i) in row-major order (bench_weight in C)."""
    n = math.prod(shape)
    v = torch.tensor([weight(seed + i) for i in range(n)], dtype=torch.float64)
    return v.reshape(shape).requires_grad_(grad)


def time_steps(step):
    """Steps per second over `seconds`, after a quarter of that warming up
    (the allocator's first large blocks, caches)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds / 4:
        step()
    steps, t0 = 0, time.perf_counter()
    t = t0
    while t - t0 < seconds or steps < 3:
        step()
        steps += 1
        t = time.perf_counter()
    return steps / (t - t0)


def run(row, fn, inputs):
    """fn(*inputs) -> y; loss = 1/2 sum (y - G)^2; backward each step."""
    with torch.no_grad():
        y = fn(*inputs)
    G = filled(tuple(y.shape), 99)
    leaves = [t for t in inputs if t.requires_grad]

    def step():
        for t in leaves:
            t.grad = None
        (0.5 * F.mse_loss(fn(*inputs), G, reduction="sum")).backward()
    print(json.dumps({"bench": "W6", "row": row, "side": "pytorch", "threads": threads,
                      "per_second": time_steps(step)}), flush=True)


rows = {
    "conv2d_1x32": lambda: run(
        "conv2d_1x32", lambda x, w, b: F.conv2d(x, w, b, padding=1),
        [filled((64, 1, 28, 28), 0), filled((32, 1, 3, 3), 1000, True),
         filled((32,), 2000, True)]),
    "conv2d_32x64": lambda: run(
        "conv2d_32x64", lambda x, w, b: F.conv2d(x, w, b, padding=1),
        [filled((64, 32, 14, 14), 0, True), filled((64, 32, 3, 3), 1000, True),
         filled((64,), 2000, True)]),
    "max_pool2d": lambda: run(
        "max_pool2d", lambda x: F.max_pool2d(x, 2), [filled((64, 32, 28, 28), 0, True)]),
    "layer_norm": lambda: run(
        "layer_norm", lambda x, w, b: F.layer_norm(x, (256,), w, b, 1e-5),
        [filled((64, 49, 256), 0, True), filled((256,), 500, True),
         filled((256,), 900, True)]),
    "bmm": lambda: run(
        "bmm", torch.matmul, [filled((64, 16, 64), 0, True), filled((64, 64, 16), 7000, True)]),
}
for name, go in rows.items():
    if only is None or only == name:
        go()
