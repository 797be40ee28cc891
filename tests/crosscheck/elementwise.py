"""Cases for the elementwise ops (src/ops/elementwise.c). GENERATORS maps an
op name to gen(rng, torch) -> [Case]; Case is injected by crosscheck_ops.py.
Shapes are drawn from rank 0 to 3; domains are kept by construction."""


from _common import broadcast_pair, shape


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
