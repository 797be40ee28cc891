#!/usr/bin/python3
"""crosscheck_torch.py - compares `chainrule eval/grad --json` with PyTorch.

Generates random multi-statement programs in chainrule's expression language
(every operator and function, constants, reuse of earlier statements), runs
`chainrule eval --json` and `chainrule grad --json` on each, evaluates the same
text with PyTorch float64 autograd (the language maps onto Python: `^` becomes
`**`, which has the same precedence and associativity), and compares every
statement's value and every gradient to a relative tolerance (default 1e-10).

Not part of `make check`: it needs PyTorch (Debian's python3-torch; the script
installs it with apt-get when run as root, or says it cannot). Usage:

    bench/crosscheck_torch.py [--programs N] [--seed S] [--tol T] [--chainrule PATH]

Prints the number of programs, comparisons and the largest relative error;
exits 1 if any comparison is outside the tolerance.
"""
import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys


def import_torch():
    try:
        import torch
        return torch
    except ImportError:
        pass
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("PyTorch missing: installing python3-torch with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "python3-torch"], check=False)
        try:
            import torch
            return torch
        except ImportError:
            pass
    sys.exit("crosscheck_torch.py: cannot import torch; install Debian's python3-torch "
             "(apt-get install python3-torch) and run it with /usr/bin/python3")


class Generator:
    """Random programs whose values stay finite: domains are kept by
    construction (log and sqrt of positive expressions, positive bases for
    a variable exponent, denominators away from zero)."""

    UNARY = ["exp", "sin", "cos", "tanh", "sigmoid", "softplus", "abs", "relu"]

    def __init__(self, rng):
        self.rng = rng

    def number(self):
        r = self.rng.random()
        if r < 0.3:
            return str(self.rng.randint(1, 5))
        if r < 0.6:
            return "%.3g" % self.rng.uniform(0.1, 3.0)
        if r < 0.8:
            return ".%d" % self.rng.randint(1, 9)
        return "%de-1" % self.rng.randint(1, 20)

    def expr(self, names, depth):
        rng = self.rng
        if depth <= 0 or rng.random() < 0.25:
            if names and rng.random() < 0.8:
                return rng.choice(names)
            return self.number()
        a = self.expr(names, depth - 1)
        b = self.expr(names, depth - 1)
        k = rng.randrange(13)
        if k == 0:
            return "%s + %s" % (a, b)
        if k == 1:
            return "%s - %s" % (a, b)
        if k == 2:
            return "(%s) * (%s)" % (a, b)
        if k == 3:
            return "(%s) / (1.5 + tanh(%s))" % (a, b)
        if k == 4:
            return "(%s)^%d" % (a, rng.choice([2, 3]))
        if k == 5:
            return "-(%s)^2" % a
        if k == 6:
            return "(softplus(%s) + .5)^(tanh(%s))" % (a, b)
        if k == 7:
            return "pow(sigmoid(%s) + 0.25, %s)" % (a, "-1" if rng.random() < 0.5 else "cos(%s)" % b)
        if k == 8:
            return "log(1 + (%s)^2)" % a
        if k == 9:
            return "sqrt(2 + sin(%s))" % a
        if k == 10:
            f = rng.choice(self.UNARY)
            if f == "exp":
                return "exp(tanh(%s))" % a
            return "%s(%s)" % (f, a)
        if k == 11:
            return "-%s * %s" % (a, b)
        return "2^-(sigmoid(%s))" % a

    def program(self):
        rng = self.rng
        inputs = ["x%d" % i for i in range(rng.randint(1, 5))]
        stmts = []
        names = list(inputs)
        lines = []
        for i in range(rng.randint(1, 6)):
            name = "s%d" % i
            lines.append("%s = %s" % (name, self.expr(names, rng.randint(1, 4))))
            stmts.append(name)
            names.append(name)
        sep = rng.choice(["; ", "\n"])
        text = sep.join(lines)
        used = set(re.findall(r"\bx[0-9]+\b", text))
        values = {x: round(rng.uniform(-2, 2), 6) for x in inputs if x in used}
        return text, values


def torch_eval(torch, text, values):
    """Values of every statement and the gradient of the last one with respect
    to every input, by PyTorch float64 autograd."""
    def T(t):
        return t if torch.is_tensor(t) else torch.tensor(float(t), dtype=torch.float64)

    def softplus(t):
        t = T(t)
        return torch.logaddexp(t, torch.zeros_like(t))

    env = {
        "exp": lambda t: torch.exp(T(t)), "log": lambda t: torch.log(T(t)),
        "sqrt": lambda t: torch.sqrt(T(t)), "abs": lambda t: torch.abs(T(t)),
        "sin": lambda t: torch.sin(T(t)), "cos": lambda t: torch.cos(T(t)),
        "tanh": lambda t: torch.tanh(T(t)), "sigmoid": lambda t: torch.sigmoid(T(t)),
        "relu": lambda t: torch.relu(T(t)), "softplus": softplus,
        "pow": lambda a, b: T(a) ** b,
    }
    leaves = {}
    for name, v in values.items():
        leaves[name] = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        env[name] = leaves[name]
    order = []
    for line in text.replace("\n", ";").split(";"):
        name, expr = line.split("=", 1)
        name = name.strip()
        val = eval(expr.replace("^", "**"), {"__builtins__": {}}, env)
        if not torch.is_tensor(val):
            val = torch.tensor(float(val), dtype=torch.float64)
        env[name] = val
        order.append(name)
    out = env[order[-1]]
    grads = {}
    if out.requires_grad:
        got = torch.autograd.grad(out, list(leaves.values()), allow_unused=True)
        for name, g in zip(leaves, got):
            grads[name] = 0.0 if g is None else float(g)
    else:
        grads = {name: 0.0 for name in leaves}
    return {n: float(env[n]) for n in order}, grads, order[-1]


def run_chainrule(binary, sub, text, values):
    at = ",".join("%s=%r" % (k, v) for k, v in values.items())
    args = [binary, sub, "--json"] + (["--at", at] if at else []) + ["--", text]
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, json.loads(p.stdout), p.stderr


def number(v):
    return float(v)  # JSON numbers, or the strings "nan", "inf", "-inf"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--programs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--chainrule", default=os.path.join(here, "..", "chainrule"))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    torch = import_torch()
    gen = Generator(random.Random(args.seed))

    programs = compared = skipped = bad = 0
    worst = (0.0, None)
    for _ in range(args.programs):
        text, values = gen.program()
        ref_values, ref_grads, out = torch_eval(torch, text, values)
        if not all(math.isfinite(v) for v in list(ref_values.values()) + list(ref_grads.values())):
            skipped += 1  # PyTorch overflowed too: nothing to compare
            continue
        rc1, ev, err1 = run_chainrule(args.chainrule, "eval", text, values)
        rc2, gr, err2 = run_chainrule(args.chainrule, "grad", text, values)
        if rc1 != 0 or rc2 != 0:
            bad += 1
            print("FAIL (exit %d/%d): %r at %r\n%s%s" % (rc1, rc2, text, values, err1, err2))
            continue
        programs += 1
        pairs = [("value of %s" % n, number(ev["values"][n]), v) for n, v in ref_values.items()]
        pairs += [("d%s/d%s" % (out, n), number(gr["gradient"][n]), v) for n, v in ref_grads.items()]
        pairs.append(("grad value", number(gr["value"]), ref_values[out]))
        for what, mine, ref in pairs:
            compared += 1
            scale = max(abs(mine), abs(ref))
            rel = abs(mine - ref) / scale if scale > 0 else 0.0
            if rel > worst[0]:
                worst = (rel, (what, mine, ref, text, values))
            if rel > args.tol and abs(mine - ref) > 1e-300:
                bad += 1
                print("MISMATCH %s: chainrule %.17g, torch %.17g (rel %.3g)\n  %r at %r"
                      % (what, mine, ref, rel, text, values))
    print("crosscheck: %d programs, %d comparisons (values and gradients), "
          "max relative error %.3g, tolerance %g, %d skipped (PyTorch non-finite), %d failures"
          % (programs, compared, worst[0], args.tol, skipped, bad))
    if args.verbose and worst[1]:
        print("worst: %s: chainrule %.17g, torch %.17g\n  %r at %r" % worst[1])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
