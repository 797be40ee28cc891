"""Cases for linear algebra (src/ops/linalg.c): matrix products with and
without transposed operands, the sum of products sop. (Transposes are in
shape.py.)"""

CR_TRANS_A, CR_TRANS_B = 1, 2


def _matmul(rng, torch):
    m, k, n = (rng.randint(1, 5) for _ in range(3))
    flags = rng.randint(0, 3)
    a = torch.randn((k, m) if flags & CR_TRANS_A else (m, k))
    b = torch.randn((n, k) if flags & CR_TRANS_B else (k, n))

    def fn(x, y):
        return (x.T if flags & CR_TRANS_A else x) @ (y.T if flags & CR_TRANS_B else y)
    return [Case("matmul", [(a, True), (b, True)], fn, ints={"flags": flags})]


GENERATORS = {"matmul": _matmul}


def _sop(rng, torch):
    """s = sum_i x_i w_i + b: scalars, dot products of vectors, or a batch
    [m,k] times weights [k,n]; the bias a scalar or broadcast over rows."""
    pairs = rng.randint(1, 3)
    kind = rng.randint(0, 2)
    inputs = []
    m, n = rng.randint(1, 4), rng.randint(1, 4)
    for _ in range(pairs):
        k = rng.randint(1, 4)
        if kind == 0:
            x, w = torch.randn(()), torch.randn(())
        elif kind == 1:
            x, w = torch.randn(k), torch.randn(k)
        else:
            x, w = torch.randn(m, k), torch.randn(k, n)
        inputs += [(x, True), (w, True)]
    bias = rng.randint(0, 1)
    if bias:
        bshape = () if kind < 2 or rng.random() < 0.3 else (n,)
        inputs.append((torch.randn(bshape), True))

    def fn(*ts):
        s = sum(ts[2 * i] * ts[2 * i + 1] if kind == 0 else
                torch.tensordot(ts[2 * i], ts[2 * i + 1], dims=1) for i in range(pairs))
        return s + ts[-1] if bias else s
    return [Case("sop", inputs, fn, ints={"pairs": pairs, "bias": bias})]


GENERATORS["sop"] = _sop
