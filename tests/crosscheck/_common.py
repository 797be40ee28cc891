"""Helpers shared by the case generators (files starting with _ are not
generator files)."""


def shape(rng, max_rank=3):
    return tuple(rng.randint(1, 4) for _ in range(rng.randint(0, max_rank)))


def broadcast_shapes(rng, n=2):
    """n shapes that broadcast by NumPy's rule: a full shape, then for each
    operand some leading axes dropped and some axes set to 1 ([N,1] columns,
    [1,D] rows, scalars, missing axes), so that together they still cover
    every axis of the full shape in some draws and none in others."""
    full = shape(rng)
    out = []
    for _ in range(n):
        kind = rng.randint(0, 3)
        if kind == 0:
            s = full
        elif kind == 1:
            s = full[rng.randint(0, len(full)):]
        else:
            s = tuple(1 if rng.random() < 0.4 else d for d in full)
            if kind == 3:
                s = s[rng.randint(0, len(s)):]
        out.append(s)
    return out


def broadcast_pair(rng):
    """Two shapes that broadcast (see broadcast_shapes)."""
    return tuple(broadcast_shapes(rng, 2))
