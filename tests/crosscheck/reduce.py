"""Cases for the reductions (src/ops/reduce.c): sums and means over every
element or one axis."""
from _common import shape


def _all(op, method):
    def gen(rng, torch):
        x = torch.randn(shape(rng))
        return [Case(op, [(x, True)], lambda t: getattr(t, method)())]
    return gen


def _axis(op, method):
    def gen(rng, torch):
        s = shape(rng, 4)
        if not s:
            s = (3,)
        axis = rng.randrange(len(s))
        x = torch.randn(s)
        return [Case(op, [(x, True)], lambda t: getattr(t, method)(axis), ints={"axis": axis})]
    return gen


GENERATORS = {
    "sum": _all("sum", "sum"),
    "mean": _all("mean", "mean"),
    "sum_axis": _axis("sum_axis", "sum"),
    "mean_axis": _axis("mean_axis", "mean"),
}
