"""Cases for linear algebra (src/ops/linalg.c): products of vectors,
matrices and batches of them, with and without transposed operands, some
large enough for CBLAS (m*n*k > 4096); the sum of products sop. (Transposes
are in shape.py.)"""

CR_TRANS_A, CR_TRANS_B = 1, 2


def _operand(rng, rank, batch, matrix, k):
    """The shape of a matmul operand of rank 1 to 4: the vector [k], or the
    matrix's two dims after the last rank - 2 dims of batch (some made 1,
    to be broadcast)."""
    if rank == 1:
        return (k,)
    dims = [d if rng.random() < 0.7 else 1 for d in batch[len(batch) - (rank - 2):]]
    return tuple(dims) + matrix


def _matmul(rng, torch):
    """torch.matmul of operands of rank 1 to 4 (batch dims broadcast), with
    the transpose flags on operands of rank 2 or more."""
    lo, hi = (16, 20) if rng.random() < 0.2 else (1, 5)
    m, k, n = (rng.randint(lo, hi) for _ in range(3))
    ra, rb = (rng.choice([1, 2, 2, 3, 4]) for _ in range(2))
    flags = rng.randint(0, 3) & ((CR_TRANS_A if ra > 1 else 0) | (CR_TRANS_B if rb > 1 else 0))
    batch = [rng.randint(1, 3) for _ in range(2)]
    a = torch.randn(_operand(rng, ra, batch, (k, m) if flags & CR_TRANS_A else (m, k), k))
    b = torch.randn(_operand(rng, rb, batch, (n, k) if flags & CR_TRANS_B else (k, n), k))

    def fn(x, y):
        return torch.matmul(x.mT if flags & CR_TRANS_A else x,
                            y.mT if flags & CR_TRANS_B else y)
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
