"""Helpers shared by the case generators (files starting with _ are not
generator files)."""


def shape(rng, max_rank=3):
    return tuple(rng.randint(1, 4) for _ in range(rng.randint(0, max_rank)))


def broadcast_pair(rng):
    """Two shapes that broadcast: equal, one a scalar, or one a suffix."""
    a = shape(rng)
    kind = rng.randint(0, 2)
    if kind == 0:
        return a, a
    if kind == 1:
        return (a, ()) if rng.random() < 0.5 else ((), a)
    b = a[rng.randint(0, len(a)):]
    return (a, b) if rng.random() < 0.5 else (b, a)
