"""Cases for the elementwise ops (src/ops/elementwise.c, compare.c).
GENERATORS maps an op name to gen(rng, torch) -> [Case]; Case is injected by
crosscheck_ops.py. Shapes are drawn from rank 0 to 3, binary and ternary
ones broadcast by NumPy's rule ([N,1] columns, [1,D] rows, missing axes);
domains are kept by construction, and kinks (0 for the activations, a == b
for maximum and minimum, the bounds of clamp) are kept away from by at least
0.1, so PyTorch's and chainrule's choices at a kink never meet."""


from _common import broadcast_pair, broadcast_shapes, shape


def unary(op, fn, domain=None):
    def gen(rng, torch):
        x = torch.randn(shape(rng))
        if domain:
            x = domain(x)
        return [Case(op, [(x, True)], fn)]
    return gen


def binary(op, fn, pos_a=False, away_b=False):
    def gen(rng, torch):
        sa, sb = broadcast_pair(rng)
        a, b = torch.randn(sa), torch.randn(sb)
        if pos_a:
            a = a.abs() + 0.5
        if away_b:
            b = b.sign() * (b.abs() + 0.5) + (b == 0) * 1.0
        return [Case(op, [(a, True), (b, True)], fn)]
    return gen


def away_from_zero(x):
    """Keeps |x| >= 0.3, so kinks at 0 are not straddled by the check."""
    return x.sign() * (x.abs() + 0.3) + (x == 0) * 0.3


GENERATORS = {
    "add": binary("add", lambda a, b: a + b),
    "sub": binary("sub", lambda a, b: a - b),
    "mul": binary("mul", lambda a, b: a * b),
    "div": binary("div", lambda a, b: a / b, away_b=True),
    "pow": binary("pow", lambda a, b: a ** b, pos_a=True),
    "neg": unary("neg", lambda x: -x),
    "exp": unary("exp", lambda x: x.exp()),
    "log": unary("log", lambda x: x.log(), lambda x: x.abs() + 0.2),
    "sqrt": unary("sqrt", lambda x: x.sqrt(), lambda x: x.abs() + 0.2),
    "abs": unary("abs", lambda x: x.abs(), away_from_zero),
    "sign": unary("sign", lambda x: x.sign(), away_from_zero),
    "sin": unary("sin", lambda x: x.sin()),
    "cos": unary("cos", lambda x: x.cos()),
    "tanh": unary("tanh", lambda x: x.tanh()),
    "sigmoid": unary("sigmoid", lambda x: x.sigmoid()),
    "relu": unary("relu", lambda x: x.relu(), away_from_zero),
    "softplus": unary("softplus", lambda x: __import__("torch").nn.functional.softplus(x)),
}


def _scale(rng, torch):
    c = rng.uniform(-3, 3)
    return [Case("scale", [(torch.randn(shape(rng)), True)], lambda x: c * x, reals={"c": c})]


def _powc(rng, torch):
    p = rng.choice([2.0, 3.0, -1.0, 0.5, 1.7, -2.5])
    x = torch.randn(shape(rng)).abs() + 0.3
    return [Case("powc", [(x, True)], lambda t: t ** p, reals={"p": p})]


GENERATORS["scale"] = _scale
GENERATORS["powc"] = _powc


def _nn(name, **kw):
    return lambda x: getattr(__import__("torch").nn.functional, name)(x, **kw)


GENERATORS["square"] = unary("square", lambda x: x.square())
GENERATORS["log1p"] = unary("log1p", lambda x: x.log1p(), lambda x: x.abs() - 0.6)
GENERATORS["erf"] = unary("erf", lambda x: x.erf())
GENERATORS["gelu"] = unary("gelu", _nn("gelu"))
GENERATORS["silu"] = unary("silu", _nn("silu"))
GENERATORS["detach"] = unary("detach", lambda x: x.detach())


def _leaky_relu(rng, torch):
    slope = rng.choice([None, 0.2, -0.5, 1.7])
    x = away_from_zero(torch.randn(shape(rng)))
    reals = {} if slope is None else {"slope": slope}
    fn = _nn("leaky_relu") if slope is None else _nn("leaky_relu", negative_slope=slope)
    return [Case("leaky_relu", [(x, True)], fn, reals=reals)]


def _elu(rng, torch):
    alpha = rng.choice([None, 0.5, 1.6])
    x = away_from_zero(torch.randn(shape(rng)))
    reals = {} if alpha is None else {"alpha": alpha}
    fn = _nn("elu") if alpha is None else _nn("elu", alpha=alpha)
    return [Case("elu", [(x, True)], fn, reals=reals)]


def _clamp(rng, torch):
    lo = rng.uniform(-1.5, 0.5)
    hi = lo + rng.uniform(0, 1.5)
    x = torch.randn(shape(rng)) * 1.5
    for bound in (lo, hi):  # keep off the bounds
        near = (x - bound).abs() < 0.1
        x = torch.where(near, x + 0.25 * (x - bound).sign() + 0.25 * (x == bound), x)
    return [Case("clamp", [(x, True)], lambda t: t.clamp(lo, hi), reals={"lo": lo, "hi": hi})]


def _pick(op):
    """maximum/minimum of operands on two interleaved grids (a near 0.5 i +
    0.125, b near 0.5 j), so that no pair is closer than 0.075."""
    def gen(rng, torch):
        sa, sb = broadcast_pair(rng)
        a = 0.5 * torch.randint(-4, 5, sa) + 0.125 + 0.05 * torch.rand(sa)
        b = 0.5 * torch.randint(-4, 5, sb) - 0.025 + 0.05 * torch.rand(sb)
        if rng.random() < 0.5:
            a, b = b, a
        return [Case(op, [(a.double(), True), (b.double(), True)], getattr(torch, op))]
    return gen


def _compare(op, fn):
    """A comparison: 0/1 values; `+ 0*(a + b)` gives PyTorch a (zero)
    gradient to compare with, as the comparison itself has none."""
    def gen(rng, torch):
        sa, sb = broadcast_pair(rng)
        a = torch.randn(sa)
        b = torch.randn(sb)
        if rng.random() < 0.5 and sa == sb:
            b = torch.where(torch.rand(sb) < 0.3, a, b)  # some ties, for ge, le, eq
        return [Case(op, [(a, True), (b, True)], lambda x, y: fn(x, y).double() + 0 * (x + y))]
    return gen


def _where(rng, torch):
    sc, sa, sb = broadcast_shapes(rng, 3)
    cond = (torch.rand(sc) < 0.5).double()
    a, b = torch.randn(sa), torch.randn(sb)
    return [Case("where", [(cond, False), (a, True), (b, True)],
                 lambda c, x, y: torch.where(c != 0, x, y))]


GENERATORS.update({
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "clamp": _clamp,
    "maximum": _pick("maximum"),
    "minimum": _pick("minimum"),
    "gt": _compare("gt", lambda a, b: a > b),
    "ge": _compare("ge", lambda a, b: a >= b),
    "lt": _compare("lt", lambda a, b: a < b),
    "le": _compare("le", lambda a, b: a <= b),
    "eq": _compare("eq", lambda a, b: a == b),
    "where": _where,
})
