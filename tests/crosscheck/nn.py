"""Cases for the neural-network ops (src/ops/conv.c, pool.c, dropout.c,
norm.c): convolutions with every parameter, pooling, dropout, layer and
batch norm. Shapes stay small (the HVP of a convolution is a convolution
of convolutions), values random."""

EXEMPT = {
    "conv": "checked as conv2d and conv1d, its two constructors",
    "conv_input_grad": "backward of conv: checked by conv's gradient and HVP",
    "conv_weight_grad": "backward of conv: checked by conv's gradient and HVP",
    "max_pool": "checked as max_pool2d and max_pool1d, its two constructors",
    "avg_pool": "checked as avg_pool2d and avg_pool1d, its two constructors",
    "max_pool_scatter": "backward of max_pool: checked by max_pool's gradient and HVP",
    "max_pool_gather": "vjp of max_pool_scatter: checked by the check_ops cases",
    "avg_pool_bwd": "backward of avg_pool: checked by avg_pool's gradient and HVP",
    "norm_bwd": "backward of layer_norm and batch_norm: checked by their HVPs",
    "norm_gain_grad": "backward of the norms' gains: checked by their gradients and HVPs",
    "training_only": "internal: batch norm's HVP when evaluating, checked by it",
    "channel_sum": "internal: bias and gain gradients, checked through conv and the norms",
    "channel_expand": "internal: the vjp of channel_sum, checked by HVPs through it",
    "channel_scale": "internal: gains in the norms' gradients, checked by their HVPs",
}


def _conv_params(rng, dims):
    """Random stride, padding, dilation per axis and groups that give an
    output of at least one position."""
    stride = [rng.randint(1, 2) for _ in range(dims)]
    dilation = [rng.randint(1, 2) for _ in range(dims)]
    groups = rng.choice([1, 1, 2])
    c = groups * rng.randint(1, 2)
    o = groups * rng.randint(1, 2)
    k = [rng.randint(1, 3) for _ in range(dims)]
    padding = [rng.randint(0, 2) for _ in range(dims)]
    size = [rng.randint(max(1, d * (kk - 1) + 1 - 2 * p), 6)
            for d, kk, p in zip(dilation, k, padding)]
    return stride, padding, dilation, groups, c, o, k, size


def _conv2d(rng, torch):
    stride, padding, dilation, groups, c, o, k, size = _conv_params(rng, 2)
    n = rng.randint(1, 2)
    x = torch.randn(n, c, *size)
    w = torch.randn(o, c // groups, *k)
    bias = rng.randint(0, 1)
    inputs = [(x, True), (w, True)] + ([(torch.randn(o), True)] if bias else [])

    def fn(x, w, b=None):
        return torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups)
    return [Case("conv2d", inputs, fn,
                 ints={"stride": stride, "padding": padding, "dilation": dilation,
                       "groups": groups, "bias": bias})]


def _conv1d(rng, torch):
    stride, padding, dilation, groups, c, o, k, size = _conv_params(rng, 1)
    n = rng.randint(1, 3)
    x = torch.randn(n, c, size[0] + rng.randint(0, 3))
    w = torch.randn(o, c // groups, k[0])
    bias = rng.randint(0, 1)
    inputs = [(x, True), (w, True)] + ([(torch.randn(o), True)] if bias else [])

    def fn(x, w, b=None):
        return torch.nn.functional.conv1d(x, w, b, stride[0], padding[0], dilation[0], groups)
    return [Case("conv1d", inputs, fn,
                 ints={"stride": stride[0], "padding": padding[0], "dilation": dilation[0],
                       "groups": groups, "bias": bias})]


def _pool(dims, kind):
    """max_pool/avg_pool, 1-D or 2-D, batched or not, with random kernel,
    stride (0 = the kernel's) and padding up to half the kernel."""
    def gen(rng, torch):
        k = [rng.randint(1, 3) for _ in range(dims)]
        s = [rng.randint(0, 3) for _ in range(dims)]
        p = [rng.randint(0, kk // 2) for kk in k]
        size = [rng.randint(max(1, kk - 2 * pp), 7) for kk, pp in zip(k, p)]
        lead = [rng.randint(1, 3)] if rng.random() < 0.3 else [rng.randint(1, 2), rng.randint(1, 3)]
        x = torch.randn(*lead, *size)
        stride = [ss or kk for ss, kk in zip(s, k)]
        f = getattr(torch.nn.functional, f"{kind}_pool{dims}d")
        if dims == 2:
            ints = {"kernel": k, "stride": s, "padding": p}
        else:
            ints = {"kernel": k[0], "stride": s[0], "padding": p[0]}
        return [Case(f"{kind}_pool{dims}d", [(x, True)],
                     lambda t: f(t, k, stride, p) if dims == 2 else f(t, k[0], stride[0], p[0]),
                     ints=ints)]
    return gen


def _dropout(rng, torch):
    """Only where dropout is deterministic: p = 0 in training mode, any p
    in evaluation mode (check_nnops.c tests training-mode masks)."""
    from _common import shape
    x = torch.randn(shape(rng, 4))
    training = rng.randint(0, 1)
    p = 0.0 if training else rng.choice([0.0, 0.2, 0.5, 0.9, 1.0])
    return [Case("dropout", [(x, True)],
                 lambda t: torch.nn.functional.dropout(t, p, training=bool(training)),
                 ints={"training": training}, reals={"p": p})]


def _layer_norm(rng, torch):
    s = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 4)))
    if all(d == 1 for d in s[-1:]):
        s = s[:-1] + (3,)
    axes = rng.randint(1, len(s))
    affine = rng.randint(0, 3)
    eps = rng.choice([1e-5, 1e-3, 0.1])
    norm = s[len(s) - axes:]
    x = torch.randn(s) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    inputs = [(x, True)]
    if affine in (1, 2):
        inputs.append((torch.randn(norm), True))
    if affine in (1, 3):
        inputs.append((torch.randn(norm), True))

    def fn(x, *p):
        # PyTorch 1.13's double backward fails for a bias without a weight:
        # ones stand in for the weight then (same values and gradients)
        w = p[0] if affine in (1, 2) else torch.ones(norm) if affine == 3 else None
        b = p[-1] if affine in (1, 3) else None
        return torch.nn.functional.layer_norm(x, norm, w, b, eps)
    return [Case("layer_norm", inputs, fn, ints={"axes": axes, "affine": affine},
                 reals={"eps": eps})]


def _batch_norm(rng, torch):
    rank = rng.randint(2, 4)
    c = rng.randint(1, 3)
    s = [rng.randint(2, 3), c] + [rng.randint(1, 3) for _ in range(rank - 2)]
    x = torch.randn(s) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    affine, training = rng.randint(0, 1), rng.randint(0, 1)
    eps = rng.choice([1e-5, 1e-3])
    inputs = [(x, True)]
    if affine:
        inputs += [(torch.randn(c), True), (torch.randn(c), True)]
    if not training:
        inputs += [(torch.randn(c), False), (torch.rand(c) + 0.5, False)]

    def fn(x, *p):
        # PyTorch 1.13's double backward fails without a weight: ones and
        # zeros stand in (same values and gradients)
        w, b = (p[0], p[1]) if affine else (torch.ones(c), torch.zeros(c))
        if training:
            return torch.nn.functional.batch_norm(x, None, None, w, b, True, 0.1, eps)
        return torch.nn.functional.batch_norm(x, p[-2], p[-1], w, b, False, 0.1, eps)
    return [Case("batch_norm", inputs, fn, ints={"affine": affine, "training": training},
                 reals={"eps": eps})]


GENERATORS = {
    "layer_norm": _layer_norm,
    "batch_norm": _batch_norm,
    "dropout": _dropout,
    "conv2d": _conv2d,
    "conv1d": _conv1d,
    "max_pool2d": _pool(2, "max"),
    "avg_pool2d": _pool(2, "avg"),
    "max_pool1d": _pool(1, "max"),
    "avg_pool1d": _pool(1, "avg"),
}
