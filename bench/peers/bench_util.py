"""bench_util.py - what the Python peers share with the C side's
bench/bench_util.h: the deterministic initial weights (and the W4 network's
layer sizes), so that both sides start from the same numbers."""
import math

# W4's scalar MLP (bench/w4_scalar_graph.c): inputs, two hidden layers, output
W4_SIZES = [128, 168, 168, 1]


def weight(k):
    """The k-th initial weight, identical to bench_weight in bench_util.h."""
    return 0.5 * math.sin(1.3 * k + 0.1)
