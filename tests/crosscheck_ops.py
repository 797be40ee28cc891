#!/usr/bin/python3
"""crosscheck_ops.py - every op of chainrule against torch.autograd in float64.

For each op, the case generators in tests/crosscheck/*.py draw random shapes,
values and parameters; tests/op_oracle evaluates the op in chainrule (value,
the gradient of sum(y * dy) for every differentiable input, and the
Hessian-vector product of that gradient with a random direction v, both as
graph nodes), and PyTorch computes the same with autograd (create_graph=True
for the second order). A number differs when

    |chainrule - torch| > rtol * max(|torch|, 1e-3 * max|torch tensor|)

and is not within 1e-13 of it. The run fails on any difference, on an op
that the oracle can build without a generator here (or the reverse), and on
an op of src/ops/oplist.h that is neither built by the oracle nor listed in
EXEMPT with the reason.

Usage: crosscheck_ops.py --oracle PATH [--srcdir DIR] [--seed S] [--cases N]
                          [--rtol R] [--only OP,OP]
Exits 0 when every comparison agrees, 1 when one does not, 2 on a usage or
set-up problem, 77 when PyTorch cannot be imported (the test is skipped).
"""
import argparse
import glob
import importlib.util
import os
import random
import re
import subprocess
import sys

# Ops of the op list that the oracle does not build, with the reason. Each is
# still checked to second order through the ops whose gradients use it.
EXEMPT = {
    "add_n": "internal: gradient accumulation (every fan-out in these cases)",
    "sigmoid_bwd": "fused backward of sigmoid: checked by sigmoid's HVP",
    "tanh_bwd": "fused backward of tanh: checked by tanh's HVP",
    "relu_bwd": "fused backward of relu: checked by relu's HVP",
    "leaky_relu_bwd": "fused backward of leaky_relu: checked by leaky_relu's HVP",
    "softmax_bwd": "fused backward of softmax: checked by softmax's HVP",
    "softmax_xent_bwd": "fused backward of softmax_xent: checked by its HVP",
    "expand": "internal: the vjp of sum over an axis, checked by sum_axis's HVP",
    "select_mask": "internal: the mask max's and min's gradients go through, checked "
                   "by their gradients (ties included)",
    "clamp_prob": "internal: bce's clamp, checked through bce",
    "index_add": "internal: the vjp of index_select, checked by index_select's HVP",
}


class Case:
    """One evaluation: op name, integer and real parameters, inputs as
    (torch tensor, differentiable) pairs, and fn(*tensors) -> torch output."""

    def __init__(self, op, inputs, fn, ints=None, reals=None):
        self.op, self.inputs, self.fn = op, inputs, fn
        self.ints, self.reals = ints or {}, reals or {}


def load_generators(srcdir):
    """Every tests/crosscheck/*.py defines GENERATORS: {op: gen(rng, torch)},
    gen returning a list of Case, and may define EXEMPT: {op: reason} for
    its family's ops that the oracle does not build (added to EXEMPT)."""
    gens = {}
    folder = os.path.join(srcdir, "tests", "crosscheck")
    sys.path.insert(0, folder)
    for path in sorted(glob.glob(os.path.join(folder, "[!_]*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        mod.Case = Case  # the generators build Case objects without importing this file
        spec.loader.exec_module(mod)
        EXEMPT.update(getattr(mod, "EXEMPT", {}))
        for op, gen in mod.GENERATORS.items():
            if op in gens:
                sys.exit(f"crosscheck_ops.py: {op} has generators in two files")
            gens[op] = gen
    return gens


def oplist_names(srcdir):
    text = open(os.path.join(srcdir, "src", "ops", "oplist.h")).read()
    text = text[text.index("#define CR_OP_LIST"):]
    return re.findall(r"\bOP(?:_FN)?\((\w+)", text)


def fmt(t):
    return " ".join(repr(float(x)) for x in t.detach().reshape(-1).tolist())


def tensor_line(t):
    dims = " ".join(str(d) for d in t.shape)
    return f"{t.dim()} {dims} {fmt(t)}".replace("  ", " ")


def torch_side(torch, case, dy, vs):
    xs = [t.clone().requires_grad_(d) for t, d in case.inputs]
    y = case.fn(*xs)
    diff = [x for x, (_, d) in zip(xs, case.inputs) if d]
    loss = (y * dy).sum()
    if loss.requires_grad:
        grads = torch.autograd.grad(loss, diff, create_graph=True, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(x) for g, x in zip(grads, diff)]
    else:  # no path to the inputs (detach): a zero gradient
        grads = [torch.zeros_like(x) for x in diff]
    dot = sum((g * v).sum() for g, v in zip(grads, vs))
    if isinstance(dot, int) or not dot.requires_grad:
        hs = [torch.zeros_like(x) for x in diff]
    else:
        hs = torch.autograd.grad(dot, diff, allow_unused=True)
        hs = [h if h is not None else torch.zeros_like(x) for h, x in zip(hs, diff)]
    return y.detach(), [g.detach() for g in grads], [h.detach() for h in hs]


def compare(name, ours, theirs, rtol):
    """Largest scaled difference, or a message when shapes or counts differ."""
    if len(ours) != theirs.numel():
        return None, f"{name}: {len(ours)} values, PyTorch has {theirs.numel()}"
    flat = [float(v) for v in theirs.detach().clone().reshape(-1)]
    top = max((abs(v) for v in flat), default=0.0)
    worst = 0.0
    for i, (a, b) in enumerate(zip(ours, flat)):
        d = abs(a - b)
        scale = max(abs(b), 1e-3 * top)
        r = d / scale if scale > 0 else (0.0 if d == 0 else float("inf"))
        if d <= 1e-13 and a == a:
            worst = max(worst, min(r, rtol))
            continue
        worst = max(worst, r)
        if r > rtol or a != a:
            return worst, f"{name}[{i}]: chainrule {a!r}, PyTorch {b!r}"
    return worst, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=6, help="random cases per generator call")
    ap.add_argument("--rtol", type=float, default=1e-10)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("crosscheck_ops.py: PyTorch not importable (apt-get install python3-torch); skipped")
        return 77
    torch.set_default_dtype(torch.float64)
    gens = load_generators(args.srcdir)
    listed = subprocess.run([args.oracle, "--list"], capture_output=True, text=True, check=True)
    built = set(listed.stdout.split())
    problems = []
    for op in sorted(built - set(gens)):
        problems.append(f"{op}: the oracle builds it but no generator in tests/crosscheck/")
    for op in sorted(set(gens) - built):
        problems.append(f"{op}: a generator but the oracle cannot build it")
    for op in oplist_names(args.srcdir):
        if op not in built and op not in EXEMPT:
            problems.append(f"{op}: in the op list, neither cross-checked nor exempt")
    ops = sorted(built & set(gens))
    if args.only:
        ops = [o for o in ops if o in args.only.split(",")]
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    cases = []
    for op in ops:
        for _ in range(args.cases):
            cases.extend(gens[op](rng, torch))
    blocks, extras = [], []
    for case in cases:
        with torch.no_grad():
            y = case.fn(*[t for t, _ in case.inputs])
        dy = torch.randn(y.shape)
        vs = [torch.randn(t.shape) for t, d in case.inputs if d]
        lines = [f"case {case.op}"]
        lines += [f"int {k} " + " ".join(str(int(x)) for x in (v if isinstance(v, (list, tuple)) else [v]))
                  for k, v in case.ints.items()]
        lines += [f"real {k} {float(v)!r}" for k, v in case.reals.items()]
        lines += [("in " if d else "const ") + tensor_line(t) for t, d in case.inputs]
        lines.append("dy " + fmt(dy))
        lines += ["v " + fmt(v) for v in vs]
        lines.append("end")
        blocks.append("\n".join(lines))
        extras.append((dy, vs))
    out = subprocess.run([args.oracle], input="\n".join(blocks) + "\n", capture_output=True,
                         text=True)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return 2
    results = out.stdout.split("done\n")
    worst_all, compared = 0.0, 0
    for case, (dy, vs), res in zip(cases, extras, results):
        lines = res.strip().split("\n")
        shapes = [tuple(t.shape) for t, _ in case.inputs]
        where = f"{case.op} {shapes} {case.ints} {case.reals}"
        if lines and lines[0].startswith("error"):
            problems.append(f"{where}: chainrule: {lines[0]}")
            continue
        y, gs, hs = torch_side(torch, case, dy, vs)
        ynums = lines[0].split()[1:]
        rank = int(ynums[0])
        shape = tuple(int(d) for d in ynums[1:1 + rank])
        if shape != tuple(y.shape):
            problems.append(f"{where}: output shape {shape}, PyTorch {tuple(y.shape)}")
            continue
        rows = [("y", [float(v) for v in ynums[1 + rank:]], y)]
        glines = [l for l in lines if l.startswith("g")]
        hlines = [l for l in lines if l.startswith("h")]
        if len(glines) != len(gs) or len(hlines) != len(hs):
            problems.append(f"{where}: {len(glines)} gradients and {len(hlines)} HVPs, "
                            f"expected {len(gs)}")
            continue
        for i, (l, t) in enumerate(zip(glines, gs)):
            rows.append((f"grad{i}", [float(v) for v in l.split()[1:]], t))
        for i, (l, t) in enumerate(zip(hlines, hs)):
            rows.append((f"hvp{i}", [float(v) for v in l.split()[1:]], t))
        for name, ours, theirs in rows:
            worst, msg = compare(name, ours, theirs, args.rtol)
            compared += 1
            if msg:
                problems.append(f"{where}: {msg}")
            elif worst is not None:
                worst_all = max(worst_all, worst)
    for p in problems:
        print("FAIL " + p)
    print(f"crosscheck_ops: {len(ops)} ops, {len(cases)} cases, {compared} tensors compared, "
          f"largest relative difference {worst_all:.3g}; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
