"""Cases for the reductions (src/ops/reduce.c): sum, mean, max, min,
logsumexp and argmax over every element or along one axis (negative axes
too), with and without keepdims. Half the max/min/argmax cases draw values
from a small grid so that ties occur: along an axis the first extreme
element takes the gradient (torch.max(x, dim)), over all elements the ties
share it (torch.max(x), torch.amax). argmax has no gradient: `+ 0*x.sum()`
gives PyTorch a zero one to compare with."""
from _common import shape


def _values(rng, torch, s, ties):
    if ties:
        return torch.randint(-2, 3, s).double() * 0.5
    return torch.randn(s)


def _all(op, fn, ties=False):
    def gen(rng, torch):
        x = _values(rng, torch, shape(rng), ties and rng.random() < 0.5)
        return [Case(op, [(x, True)], fn)]
    return gen


def _axis(op, fn, keepdims=False, ties=False):
    """op along a random axis; fn(t, axis, keepdim)."""
    def gen(rng, torch):
        s = shape(rng, 4) or (3,)
        axis = rng.randrange(len(s))
        if rng.random() < 0.5:
            axis -= len(s)
        keep = int(keepdims and rng.random() < 0.5)
        x = _values(rng, torch, s, ties and rng.random() < 0.5)
        ints = {"axis": axis}
        if keepdims:
            ints["keepdims"] = keep
        return [Case(op, [(x, True)], lambda t: fn(t, axis, bool(keep)), ints=ints)]
    return gen


def _argmax_all(t):
    return t.reshape(-1).argmax().double() + 0 * t.sum()


GENERATORS = {
    "sum": _all("sum", lambda t: t.sum()),
    "mean": _all("mean", lambda t: t.mean()),
    "sum_axis": _axis("sum_axis", lambda t, a, k: t.sum(a)),
    "mean_axis": _axis("mean_axis", lambda t, a, k: t.mean(a)),
    "sum_dim": _axis("sum_dim", lambda t, a, k: t.sum(a, keepdim=k), True),
    "mean_dim": _axis("mean_dim", lambda t, a, k: t.mean(a, keepdim=k), True),
    "max": _all("max", lambda t: t.max(), True),
    "min": _all("min", lambda t: t.min(), True),
    "logsumexp": _all("logsumexp", lambda t: t.reshape(-1).logsumexp(0)),
    "argmax": _all("argmax", _argmax_all, True),
    "max_dim": _axis("max_dim", lambda t, a, k: t.max(a, keepdim=k)[0], True, True),
    "min_dim": _axis("min_dim", lambda t, a, k: t.min(a, keepdim=k)[0], True, True),
    "logsumexp_dim": _axis("logsumexp_dim", lambda t, a, k: t.logsumexp(a, keepdim=k), True),
    "argmax_dim": _axis("argmax_dim",
                        lambda t, a, k: t.argmax(a, keepdim=k).double() + 0 * t.sum(),
                        True, True),
}
