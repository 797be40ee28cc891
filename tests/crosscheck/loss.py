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


def _softmax(rng, torch):
    s = (rng.randint(1, 5),) if rng.random() < 0.5 else (rng.randint(1, 4), rng.randint(1, 5))
    return [Case("softmax", [(torch.randn(s), True)], lambda x: x.softmax(-1))]


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
    "softmax_xent": _softmax_xent,
    "bce": _bce,
    "bce_logits": _bce_logits,
}
