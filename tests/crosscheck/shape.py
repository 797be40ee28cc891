"""Cases for the shape and indexing ops (src/ops/shape.c, src/ops/index.c):
reshape (with an inferred -1), flatten, permute, transpose of the last two
axes, slice with Python's negative and clamped bounds, pad, concat, stack
and index_select (indices of rank 0 to 2, repeats allowed). Axes are drawn
negative half of the time."""

from _common import shape


def _axis(rng, rank):
    """An axis of a rank-`rank` tensor, negative half of the time."""
    a = rng.randrange(rank)
    return a - rank if rng.random() < 0.5 else a


def _reshape(rng, torch):
    x = torch.randn(shape(rng, 4))
    rest, dims = x.numel(), []
    while rest > 1 and len(dims) < 3:
        d = rng.choice([d for d in range(2, rest + 1) if rest % d == 0])
        dims.append(d)
        rest //= d
    if rest > 1 or rng.random() < 0.3:
        dims.append(rest)
    rng.shuffle(dims)
    if dims and rng.random() < 0.5:
        dims[rng.randrange(len(dims))] = -1
    return [Case("reshape", [(x, True)], lambda t: t.reshape(dims), ints={"shape": dims})]


def _flatten(rng, torch):
    x = torch.randn(shape(rng, 4))
    start = _axis(rng, max(x.dim(), 1))
    return [Case("flatten", [(x, True)], lambda t: torch.flatten(t, start),
                 ints={"start": start})]


def _permute(rng, torch):
    x = torch.randn(shape(rng, 4))
    axes = list(range(x.dim()))
    rng.shuffle(axes)
    axes = [a - x.dim() if rng.random() < 0.5 else a for a in axes]
    return [Case("permute", [(x, True)], lambda t: t.permute(axes), ints={"axes": axes})]


def _transpose(rng, torch):
    x = torch.randn(tuple(rng.randint(1, 4) for _ in range(rng.randint(2, 4))))
    return [Case("transpose", [(x, True)], lambda t: t.transpose(-1, -2))]


def _slice(rng, torch):
    while True:
        x = torch.randn(tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 4))))
        axis = _axis(rng, x.dim())
        n = x.shape[axis]
        start, stop = (rng.choice([rng.randint(-n - 2, n + 2), -1000, 1000]) for _ in range(2))
        step = rng.randint(1, 3)
        if len(range(*slice(start, stop, step).indices(n))):
            break
    index = (slice(None),) * (axis % x.dim()) + (slice(start, stop, step),)
    return [Case("slice", [(x, True)], lambda t: t[index],
                 ints={"axis": axis, "start": start, "stop": stop, "step": step})]


def _pad(rng, torch):
    x = torch.randn(tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 4))))
    axis, before, after = _axis(rng, x.dim()), rng.randint(0, 3), rng.randint(0, 3)
    widths = [0, 0] * (x.dim() - 1 - axis % x.dim()) + [before, after]
    return [Case("pad", [(x, True)], lambda t: torch.nn.functional.pad(t, widths),
                 ints={"axis": axis, "before": before, "after": after})]


def _concat(rng, torch):
    base = [rng.randint(1, 3) for _ in range(rng.randint(1, 4))]
    axis = _axis(rng, len(base))
    xs = []
    for _ in range(rng.randint(1, 3)):
        s = list(base)
        s[axis] = rng.randint(1, 3)
        xs.append((torch.randn(s), True))
    return [Case("concat", xs, lambda *ts: torch.cat(ts, axis), ints={"axis": axis})]


def _stack(rng, torch):
    s = shape(rng, 3)
    axis = _axis(rng, len(s) + 1)
    xs = [(torch.randn(s), True) for _ in range(rng.randint(1, 3))]
    return [Case("stack", xs, lambda *ts: torch.stack(ts, axis), ints={"axis": axis})]


def _index_select(rng, torch):
    x = torch.randn(tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 3))))
    axis = _axis(rng, x.dim())
    n = x.shape[axis]
    idx_rank = rng.randint(0, min(2, 5 - x.dim()))
    idx = torch.randint(0, n, tuple(rng.randint(1, 4) for _ in range(idx_rank))).double()

    def fn(t, i):
        a = axis % t.dim()
        picked = t.index_select(a, i.long().reshape(-1))
        return picked.reshape(t.shape[:a] + i.shape + t.shape[a + 1:])
    return [Case("index_select", [(x, True), (idx, False)], fn, ints={"axis": axis})]


GENERATORS = {
    "reshape": _reshape,
    "flatten": _flatten,
    "permute": _permute,
    "transpose": _transpose,
    "slice": _slice,
    "pad": _pad,
    "concat": _concat,
    "stack": _stack,
    "index_select": _index_select,
}
