"""Cases for the losses and softmax (src/ops/loss.c)."""
from _common import shape


def _pair(op, fn, p_domain=None, t_domain=None):
    def gen(rng, torch):
        s = shape(rng)
        a, b = torch.randn(s), torch.randn(s)
        if p_domain:
            a = p_domain(a)
        if t_domain:
            b = t_domain(b)
        return [Case(op, [(a, True), (b, True)], fn)]
    return gen


EXEMPT = {
    "cross_entropy_bwd": "fused backward of cross_entropy: checked by its HVP",
}


def _softmax(rng, torch):
    s = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 4)))
    return [Case("softmax", [(torch.randn(s), True)], lambda x: x.softmax(-1))]


def _along(op, fn, pair=False):
    """op(x[, t], axis) for a random axis of a rank 1-4 tensor, negative
    half of the time; t a distribution along that axis."""
    def gen(rng, torch):
        s = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 4)))
        axis = rng.randrange(len(s)) - (len(s) if rng.random() < 0.5 else 0)
        inputs = [(torch.randn(s) * 2, True)]
        if pair:
            t = torch.rand(s)
            inputs.append((t / t.sum(axis, keepdim=True), True))
        return [Case(op, inputs, lambda *x: fn(*x, axis), ints={"axis": axis})]
    return gen


def _xent_axis(z, t, axis):
    return -(t * z.log_softmax(axis)).sum() / (z.numel() // z.shape[axis])


def _cross_entropy(rng, torch):
    """Class indices as PyTorch takes them: [N,C] with [N], [N,C,d...]
    with [N,d...], or [C] with a scalar."""
    kind = rng.randint(0, 2)
    c = rng.randint(1, 5)
    if kind == 0:
        shape = (c,)
    elif kind == 1:
        shape = (rng.randint(1, 4), c)
    else:
        shape = (rng.randint(1, 3), c) + tuple(rng.randint(1, 3) for _ in range(rng.randint(1, 2)))
    z = torch.randn(shape) * 2
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = torch.randint(0, c, tshape).double()
    return [Case("cross_entropy", [(z, True), (t, False)],
                 lambda z, t: torch.nn.functional.cross_entropy(z, t.long()))]


def _huber(rng, torch):
    s = shape(rng)
    delta = rng.choice([1.0, 0.5, 2.0, 0.1])
    return [Case("huber", [(torch.randn(s) * 2, True), (torch.randn(s) * 2, True)],
                 lambda y, t: torch.nn.functional.huber_loss(y, t, delta=delta),
                 reals={"delta": delta})]


def _softmax_xent(rng, torch):
    rows, k = rng.randint(1, 4), rng.randint(2, 5)
    z = torch.randn(rows, k)
    t = torch.rand(rows, k)
    t = t / t.sum(-1, keepdim=True)

    def fn(z, t):
        return -(t * z.log_softmax(-1)).sum() / rows
    return [Case("softmax_xent", [(z, True), (t, True)], fn)]


def _bce(rng, torch):
    s = shape(rng)
    p = torch.rand(s) * 0.8 + 0.1
    t = torch.rand(s)
    return [Case("bce", [(p, True), (t, True)],
                 lambda p, t: -(t * p.log() + (1 - t) * (1 - p).log()).mean())]


def _bce_logits(rng, torch):
    s = shape(rng)
    z, t = torch.randn(s), torch.rand(s)
    return [Case("bce_logits", [(z, True), (t, True)],
                 lambda z, t: torch.nn.functional.binary_cross_entropy_with_logits(z, t))]


GENERATORS = {
    "sq_error": _pair("sq_error", lambda y, d: 0.5 * ((d - y) ** 2).sum()),
    "mse": _pair("mse", lambda y, d: ((y - d) ** 2).mean()),
    "softmax": _softmax,
    "softmax_axis": _along("softmax_axis", lambda x, a: x.softmax(a)),
    "log_softmax": _along("log_softmax", lambda x, a: x.log_softmax(a)),
    "softmax_xent_axis": _along("softmax_xent_axis", _xent_axis, pair=True),
    "cross_entropy": _cross_entropy,
    "huber": _huber,
    "softmax_xent": _softmax_xent,
    "bce": _bce,
    "bce_logits": _bce_logits,
}
