#!/usr/bin/python3
"""crosscheck_programs.py - random tensor programs of the expression language
against torch.autograd in float64, through the `chainrule` command.

Each program is drawn from its own seed (the run's --seed and the program's
number) and written twice: as chainrule program text and as the equivalent
PyTorch code. Shapes are tracked while drawing, so every program is valid:
inputs of rank 0 to 3 (axes of length 1 to 4), several statements mixing
broadcasting elementwise operators and functions, `@` in its vector, matrix
and batched forms, reductions with an axis (negative too) and keepdims,
indexing and slicing (x[i], x[:, j], x[a:b], x[::2], negative indices),
transpose, softmax, where, [a, b], concat, reshape and flatten; names used
two or more times (fan-out); and a scalar output. For each program

    chainrule grad --json --at X=... PROGRAM          value and gradient
    chainrule hvp --json --at X=... --v X=... PROGRAM  value and H v

are compared with PyTorch's value, gradient of every input and the
Hessian-vector product along the same random direction v over all inputs
(v echoed by the command must equal the v given: 17 digits round-trip), with
crosscheck_ops.compare (relative 1e-10 by default). A few programs that must
be rejected (operands that do not broadcast, inner or batch dimensions of
`@` that differ, an axis or an index out of range, too many indices) are
checked for exit status 2, the exact message naming the operator and both
shapes, and the line and column of the operator; PyTorch must reject them
too.

A failure prints the program, the PyTorch code, the inputs, v, the
differing element and the command line that reproduces it
(--seed S --program N).

Usage: crosscheck_programs.py --chainrule PATH [--seed S] [--programs N]
                              [--rejects N] [--program I] [--rtol R] [-v]
Exits 0 when every comparison agrees, 1 when one does not, 2 on a usage or
set-up problem, 77 when PyTorch cannot be imported (the test is skipped).
"""
import argparse
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crosscheck_ops import compare  # noqa: E402  (one comparison rule for both checks)

MAX_INPUTS = 6


def fmt_shape(s):
    return "[" + ",".join(str(d) for d in s) + "]"


def broadcast(s, t):
    """NumPy's broadcast of shapes s and t, or None when they do not."""
    out = []
    for i in range(1, max(len(s), len(t)) + 1):
        a = s[-i] if i <= len(s) else 1
        b = t[-i] if i <= len(t) else 1
        if a != b and a != 1 and b != 1:
            return None
        out.append(max(a, b))
    return tuple(reversed(out))


def literal(values, shape):
    """values (row-major) as a nested list literal for --at and --v."""
    if not shape:
        return repr(values[0])
    step = len(values) // shape[0]
    return "[" + ",".join(literal(values[i * step:(i + 1) * step], shape[1:])
                          for i in range(shape[0])) + "]"


def flatten(v):
    if isinstance(v, list):
        return [x for item in v for x in flatten(item)]
    return [float(v)]


class Program:
    """One random program: inputs (name, shape, values), statements
    (name, chainrule text, torch text, shape), use counts per name."""

    def __init__(self, rng):
        self.rng = rng
        self.inputs = []
        self.stmts = []
        self.uses = {}
        self.shapes = {}

    # ---- operands ----

    def fresh(self, shape):
        """A new input of this shape, or None when there are enough."""
        if len(self.inputs) >= MAX_INPUTS:
            return None
        name = f"x{len(self.inputs)}"
        n = 1
        for d in shape:
            n *= d
        vals = [round(self.rng.gauss(0, 1), 6) + self.rng.random() * 1e-7 for _ in range(n)]
        self.inputs.append((name, tuple(shape), vals))
        self.shapes[name] = tuple(shape)
        self.uses[name] = 0
        return name

    def names(self):
        return list(self.shapes)

    def use(self, name):
        self.uses[name] += 1
        return name

    def pick(self, ok=lambda s: True):
        """An existing name whose shape passes ok, favouring statements
        (later ones) and names used already (fan-out); None if none."""
        cands = [n for n in self.names() if ok(self.shapes[n])]
        if not cands:
            return None
        weights = [(3 if n.startswith("t") else 1) + 2 * min(self.uses[n], 2) for n in cands]
        return self.rng.choices(cands, weights)[0]

    def operand(self, shape):
        """A name of exactly this shape: an existing one or a fresh input."""
        name = self.pick(lambda s: s == tuple(shape)) if self.rng.random() < 0.6 else None
        return name or self.fresh(shape)

    def partner(self, s):
        """A name whose shape broadcasts with s (drawn so that both sides
        sometimes stretch): an existing one or a fresh input."""
        r = self.rng
        if r.random() < 0.5:
            name = self.pick(lambda t: broadcast(s, t) is not None and len(broadcast(s, t)) <= 3)
            if name:
                return name
        kind = r.randint(0, 4)
        if kind == 0:
            t = s
        elif kind == 1:
            t = s[r.randint(0, len(s)):]
        elif kind == 2:
            t = tuple(1 if r.random() < 0.5 else d for d in s)
        elif kind == 3 and len(s) < 3:
            t = (r.randint(2, 3),) + s
        else:
            t = tuple(r.randint(1, 3) if d == 1 else d for d in s)
        return self.fresh(t)

    # ---- statements: each returns (chainrule text, torch text, shape) or None ----

    def unary(self):
        a = self.pick()
        if a is None:
            return None
        s = self.shapes[a]
        self.use(a)
        fn = self.rng.choice([
            ("sin({})", "torch.sin({})"), ("cos({})", "torch.cos({})"),
            ("tanh({})", "torch.tanh({})"), ("sigmoid({})", "torch.sigmoid({})"),
            ("softplus({})", "torch.nn.functional.softplus({})"),
            ("square({})", "torch.square({})"), ("erf({})", "torch.erf({})"),
            ("gelu({})", "torch.nn.functional.gelu({})"),
            ("silu({})", "torch.nn.functional.silu({})"),
            ("sqrt(1 + {}^2)", "torch.sqrt(1 + {}**2)"),
            ("log(1.5 + cos({}))", "torch.log(1.5 + torch.cos({}))"),
            ("log1p({}^2)", "torch.log1p({}**2)"), ("exp(-{}^2)", "torch.exp(-{}**2)"),
            ("exp(tanh({}))", "torch.exp(torch.tanh({}))"), ("-{}^3", "-{}**3"),
            ("0.5*{}", "0.5*{}"), ("abs({})", "torch.abs({})"),
            ("elu({}, 0.7)", "torch.nn.functional.elu({}, 0.7)"),
        ])
        return fn[0].format(a), fn[1].format(a), s

    def binary(self):
        a = self.pick()
        if a is None:
            return None
        s = self.shapes[a]
        b = self.partner(s)
        if b is None:
            return None
        t = self.shapes[b]
        self.use(a)
        self.use(b)
        if self.rng.random() < 0.5:
            a, b, s, t = b, a, t, s
        op = self.rng.choice(["+", "-", "*", "*", "/", "max", "where"])
        if op == "/":
            cr, th = f"{a} / (2 + sin({b}))", f"{a} / (2 + torch.sin({b}))"
        elif op == "max":
            cr, th = f"maximum({a}, {b})", f"torch.maximum({a}, {b})"
        elif op == "where":
            cr, th = f"({a} > {b} ? {a}*{b} : {b})", f"torch.where({a} > {b}, {a}*{b}, {b})"
        else:
            cr, th = f"({a} {op} {b})", f"({a} {op} {b})"
        return cr, th, broadcast(s, t)

    def matmul(self):
        r = self.rng
        a = self.pick(lambda s: 1 <= len(s) <= 3)
        if a is None:
            return None
        s = self.shapes[a]
        k = s[-1]
        m, batch = r.randint(1, 4), r.randint(2, 3)
        if len(s) == 1:
            t = r.choice([(k,), (k, m), (batch, k, m)])
        elif len(s) == 2:
            t = r.choice([(k,), (k, m), (batch, k, m)])
        else:
            t = r.choice([(k,), (k, m), (s[0], k, m), (1, k, m)])
        transposed = len(t) >= 2 and r.random() < 0.3
        b = self.operand(t[:-2] + (t[-1], t[-2]) if transposed else t)
        if b is None:
            return None
        self.use(a)
        self.use(b)
        # the result shape by torch.matmul's rules
        if len(s) == 1 and len(t) == 1:
            out = ()
        elif len(s) == 1:
            out = t[:-2] + (t[-1],)
        elif len(t) == 1:
            out = s[:-1]
        else:
            out = broadcast(s[:-2], t[:-2]) + (s[-2], t[-1])
        if transposed:
            return (f"({a} @ transpose({b}))", f"({a} @ torch.transpose({b}, -1, -2))", out)
        if r.random() < 0.2:
            return f"matmul({a}, {b})", f"torch.matmul({a}, {b})", out
        return f"({a} @ {b})", f"({a} @ {b})", out

    def reduce(self):
        r = self.rng
        fn = r.choice(["sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax"])
        soft = fn.endswith("softmax")
        a = self.pick(lambda s: len(s) >= 1) if (soft or r.random() < 0.8) else self.pick()
        if a is None:
            return None
        s = self.shapes[a]
        self.use(a)
        th_fn = {"sum": "torch.sum", "mean": "torch.mean", "max": "torch.amax",
                 "min": "torch.amin", "logsumexp": "torch.logsumexp",
                 "softmax": "torch.softmax", "log_softmax": "torch.log_softmax"}[fn]
        if not s or (not soft and r.random() < 0.2):
            if fn == "logsumexp":
                return f"logsumexp({a})", f"torch.logsumexp({a}.reshape(-1), 0)", ()
            return f"{fn}({a})", f"{th_fn}({a})", ()
        axis = r.randint(-len(s), len(s) - 1)
        if soft:
            return f"{fn}({a}, {axis})", f"{th_fn}({a}, {axis})", s
        keep = r.randint(0, 1)
        out = s[:axis % len(s)] + ((1,) if keep else ()) + s[axis % len(s) + 1:]
        arg = r.choice([f", {axis}, {keep}", f", {axis}, keepdims={keep}",
                        f", axis={axis}, keepdims={keep}"]) if keep or r.random() < 0.5 \
            else f", {axis}"
        return f"{fn}({a}{arg})", f"{th_fn}({a}, {axis}, keepdim={bool(keep)})", out

    def index(self):
        r = self.rng
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return None
        s = self.shapes[a]
        self.use(a)
        parts, out = [], []
        n_idx = r.randint(1, len(s))
        for ax in range(n_idx):
            d = s[ax]
            kind = r.randint(0, 3)
            if kind == 0:
                i = r.randint(-d, d - 1)
                parts.append(str(i))
            elif kind == 1 and ax < n_idx - 1:
                parts.append(":")
                out.append(d)
            elif kind == 2:
                lo = r.randint(-d, d - 1)
                lo_pos = lo % d
                hi = r.randint(lo_pos + 1, d)
                hi_txt = str(hi - d) if (r.random() < 0.3 and hi < d) else str(hi)
                lo_txt = "" if lo_pos == 0 and r.random() < 0.5 else str(lo)
                parts.append(f"{lo_txt}:{hi_txt if hi < d or r.random() < 0.5 else ''}")
                out.append(hi - lo_pos)
            else:
                step = r.choice([1, 2, 2, 3])
                parts.append(f"::{step}")
                out.append((d + step - 1) // step)
        out += list(s[n_idx:])
        text = f"{a}[{', '.join(parts)}]"
        return text, text, tuple(out)

    def transpose(self):
        a = self.pick(lambda s: len(s) >= 2)
        if a is None:
            return None
        s = self.shapes[a]
        self.use(a)
        return f"transpose({a})", f"torch.transpose({a}, -1, -2)", s[:-2] + (s[-1], s[-2])

    def join(self):
        """[a, b] (stack along a new first axis), concat or reshape."""
        r = self.rng
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return None
        s = self.shapes[a]
        kind = r.randint(0, 2)
        if kind == 2:
            n = 1
            for d in s:
                n *= d
            self.use(a)
            if r.random() < 0.5:
                return f"flatten({a})", f"{a}.reshape(-1)", (n,)
            rows = r.choice([d for d in range(1, n + 1) if n % d == 0])
            return (f"reshape({a}, [{rows}, -1])", f"{a}.reshape({rows}, -1)",
                    (rows, n // rows))
        axis = r.randint(-len(s), len(s) - 1)
        t = list(s)
        if kind == 1:
            t[axis] = r.randint(1, 3)
        if kind == 0 and len(s) >= 3:
            return None
        b = self.operand(tuple(t))
        if b is None:
            return None
        self.use(a)
        self.use(b)
        if kind == 0:
            return f"[{a}, {b}]", f"torch.stack([{a}, {b}])", (2,) + s
        out = list(s)
        out[axis] += t[axis]
        return f"concat([{a}, {b}], {axis})", f"torch.cat([{a}, {b}], {axis})", tuple(out)

    def statement(self):
        kinds = [self.unary, self.binary, self.binary, self.matmul, self.matmul,
                 self.reduce, self.reduce, self.index, self.index, self.transpose,
                 self.join]
        got = None
        for _ in range(20):
            got = self.rng.choice(kinds)()
            if got:
                break
        # a function of one argument fits any value (when nothing else fits:
        # only scalars left and no more inputs, say)
        got = got or self.unary()
        name = f"t{len(self.stmts) + 1}"
        self.stmts.append((name, got[0], got[1], got[2]))
        self.shapes[name] = got[2]
        self.uses[name] = 0

    def finish(self):
        """The scalar output L: every statement nothing uses yet, reduced,
        and a name used twice when nothing has fan-out yet."""
        terms = []
        for name, _, _, s in self.stmts:
            if self.uses[name] == 0 or name == self.stmts[-1][0]:
                terms.append(name)
        if max(self.uses.values()) < 2:  # no fan-out yet: use a name a second time
            once = [n for n in self.names() if self.uses[n] == 1 and n not in terms]
            terms.append(once[0] if once else terms[0])
        cr, th = [], []
        for name in terms:
            self.use(name)
            if not self.shapes[name]:
                cr.append(name)
                th.append(name)
            elif self.rng.random() < 0.5:
                cr.append(f"sum({name}*{name})")
                th.append(f"torch.sum({name}*{name})")
            else:
                cr.append(f"mean({name})")
                th.append(f"torch.mean({name})")
        self.stmts.append(("L", " + ".join(cr), " + ".join(th), ()))

    def text(self):
        return "\n".join(f"{n} = {c}" for n, c, _, _ in self.stmts)

    def torch_text(self):
        return "\n".join(f"{n} = {t}" for n, _, t, _ in self.stmts)


def draw(seed, number):
    rng = random.Random(f"crosscheck_programs {seed} {number}")
    p = Program(rng)
    p.fresh(tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 3))))
    for _ in range(rng.randint(2, 7)):
        p.statement()
    p.finish()
    return p


def torch_side(torch, p, vs):
    xs = {n: torch.tensor(vals, dtype=torch.float64).reshape(s).requires_grad_(True)
          for n, s, vals in p.inputs}
    env = {"torch": torch, **xs}
    exec(p.torch_text(), env)
    L = env["L"]
    order = [xs[n] for n, _, _ in p.inputs]
    grads = torch.autograd.grad(L, order, create_graph=True, allow_unused=True)
    grads = [g if g is not None else torch.zeros_like(x) for g, x in zip(grads, order)]
    dot = sum((g * v).sum() for g, v in zip(grads, vs))
    if not getattr(dot, "requires_grad", False):
        hs = [torch.zeros_like(x) for x in order]
    else:
        hs = torch.autograd.grad(dot, order, allow_unused=True)
        hs = [h if h is not None else torch.zeros_like(x) for h, x in zip(hs, order)]
    shapes = {n: tuple(env[n].shape) for n, _, _, _ in p.stmts}
    return L.detach(), [g.detach() for g in grads], [h.detach() for h in hs], shapes


def run_both(*cmds):
    """Runs the commands side by side; (exit status, parsed JSON or None,
    standard error) of each."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    results = []
    for proc in procs:
        out, err = proc.communicate()
        try:
            obj = json.loads(out)
        except ValueError:
            obj = None
        results.append((proc.returncode, obj, err))
    return results


def check_program(torch, chainrule, seed, number, rtol, worst):
    """Problems of program `number` (a list of strings, empty when it agrees)."""
    p = draw(seed, number)
    vrng = random.Random(f"crosscheck_programs v {seed} {number}")
    vs_lists = [[round(vrng.gauss(0, 1), 6) for _ in vals] for _, _, vals in p.inputs]
    vs = [torch.tensor(v, dtype=torch.float64).reshape(s)
          for v, (_, s, _) in zip(vs_lists, p.inputs)]
    at = ",".join(f"{n}={literal(vals, s)}" for n, s, vals in p.inputs)
    vopt = ",".join(f"{n}={literal(v, s)}" for v, (n, s, _) in zip(vs_lists, p.inputs))
    text = p.text()
    problems = []
    try:
        L, gs, hs, shapes = torch_side(torch, p, vs)
    except Exception as e:  # a generator bug, not chainrule's
        return [f"PyTorch rejects the program: {e}"], p, at, vopt
    for n, _, _, s in p.stmts:
        if shapes[n] != s:
            problems.append(f"generator: {n} has the shape {shapes[n]} in PyTorch, tracked {s}")
    (st, g_obj, err), (st2, h_obj, err2) = run_both(
        [chainrule, "grad", "--json", "--at", at, text],
        [chainrule, "hvp", "--json", "--at", at, "--v", vopt, text])
    if st != 0 or not g_obj or "gradient" not in g_obj:
        return problems + [f"chainrule grad: exit {st}: {err.strip()}"], p, at, vopt
    if st2 != 0 or not h_obj or "hvp" not in h_obj:
        return problems + [f"chainrule hvp: exit {st2}: {err2.strip()}"], p, at, vopt
    rows = [("value (grad)", [float(g_obj["value"])], L),
            ("value (hvp)", [float(h_obj["value"])], L)]
    for (n, s, _), g, h, v in zip(p.inputs, gs, hs, vs):
        if n not in g_obj["gradient"] or n not in h_obj["hvp"]:
            problems.append(f"chainrule gives no gradient or HVP of {n}")
            continue
        rows.append((f"dL/d{n} {fmt_shape(s)}", flatten(g_obj["gradient"][n]), g))
        rows.append((f"(Hv)_{n} {fmt_shape(s)}", flatten(h_obj["hvp"][n]), h))
        if flatten(h_obj["v"][n]) != v.reshape(-1).tolist():
            problems.append(f"v of {n} read back as {h_obj['v'][n]}, given {v.tolist()}")
    for name, ours, theirs in rows:
        w, msg = compare(name, ours, theirs, rtol)
        if msg:
            problems.append(msg)
        elif w is not None:
            worst[0] = max(worst[0], w)
    return problems, p, at, vopt


# ---- programs that must be rejected ----

def rejects(seed, count):
    """(program text, torch code, inputs, expected message, line, column):
    a valid statement, then one whose operator cannot take its operands."""
    out = []
    for i in range(count):
        r = random.Random(f"crosscheck_programs reject {seed} {i}")
        n, m = r.randint(2, 4), r.randint(2, 4)
        k = r.choice([d for d in range(2, 5) if d != m])
        kind = i % 7
        pre = "t1 = tanh(a)"
        if kind <= 1:
            op, name = r.choice([("+", "add"), ("-", "sub"), ("*", "mul"), ("/", "div"),
                                 ("^", "pow")])
            a, b = (n, m), (k,)
            stmt, at = f"t2 = t1 {op} b", 8
            msg = f"{name}: {fmt_shape(a)} and {fmt_shape(b)} do not broadcast"
            th = f"t2 = t1 {'**' if op == '^' else op} b"
        elif kind == 2:
            a, b = (n, m), (k,)
            stmt, at = "t2 = t1 @ b", 8
            msg = f"matmul: {fmt_shape(a)} x {fmt_shape(b)}: inner dimensions {m} and {k} differ"
            th = "t2 = t1 @ b"
        elif kind == 3:
            bn = r.choice([d for d in range(2, 5) if d != n])
            a, b = (n, 2, m), (bn, m, 3)
            stmt, at = "t2 = t1 @ b", 8
            msg = (f"matmul: {fmt_shape(a)} x {fmt_shape(b)}: batch dimensions {n} and {bn} "
                   f"do not broadcast")
            th = "t2 = t1 @ b"
        elif kind == 4:
            fn = r.choice(["sum", "mean", "max", "min", "softmax", "log_softmax"])
            a, b = (n, m), (1,)
            axis = r.choice([2, 3, -3, -4])
            stmt, at = f"t2 = {fn}(t1, {axis}) + b", 5
            msg = f"{fn}: axis {axis} out of range for {fmt_shape(a)}"
            th = f"t2 = torch.{fn}(t1, {axis}) + b"
        elif kind == 5:
            a, b = (n, m), (1,)
            bad = r.choice([n, -n - 1])
            stmt, at = f"t2 = t1[{bad}] * b", 7
            msg = (f"index {bad} is out of range for axis 0 of length {n} "
                   f"(shape {fmt_shape(a)})")
            th = f"t2 = t1[{bad}] * b"
        else:
            a, b = (n, m), (1,)
            stmt, at = "t2 = b * t1[0, 1, 0]", 11
            msg = f"3 indices for a value of shape {fmt_shape(a)} (rank 2)"
            th = "t2 = b * t1[0, 1, 0]"
        inputs = []
        for name, s in (("a", a), ("b", b)):
            size = 1
            for d in s:
                size *= d
            inputs.append((name, s, [round(r.gauss(0, 1), 6) for _ in range(size)]))
        text = f"{pre}\n{stmt}\nL = sum(t2)"
        torch_text = f"t1 = torch.tanh(a)\n{th}"
        out.append((text, torch_text, inputs, msg, 2, at + 1))
    return out


def check_reject(torch, chainrule, case):
    text, torch_text, inputs, msg, line, col = case
    at = ",".join(f"{n}={literal(vals, s)}" for n, s, vals in inputs)
    problems = []
    env = {"torch": torch}
    env.update({n: torch.tensor(v, dtype=torch.float64).reshape(s) for n, s, v in inputs})
    try:
        exec(torch_text, env)
        problems.append("PyTorch accepts it")
    except (RuntimeError, IndexError):
        pass
    ((st, obj, err),) = run_both([chainrule, "grad", "--json", "--at", at, text])
    e = (obj or {}).get("error", {})
    if st != 2 or e.get("exit") != 2:
        problems.append(f"exit {st} (JSON exit {e.get('exit')}), expected 2")
    if e.get("message") != msg:
        problems.append(f"message {e.get('message')!r}, expected {msg!r}")
    if (e.get("line"), e.get("column")) != (line, col):
        problems.append(f"at {e.get('line')}:{e.get('column')}, expected {line}:{col}")
    return problems, at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chainrule", required=True, help="the chainrule program")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--programs", type=int, default=200)
    ap.add_argument("--rejects", type=int, default=16)
    ap.add_argument("--program", type=int, default=None, help="run only this program")
    ap.add_argument("--rtol", type=float, default=1e-10)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every program")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("crosscheck_programs.py: PyTorch not importable (apt-get install python3-torch); "
              "skipped")
        return 77
    torch.set_default_dtype(torch.float64)
    if not os.access(args.chainrule, os.X_OK):
        print(f"crosscheck_programs.py: {args.chainrule}: not an executable", file=sys.stderr)
        return 2
    numbers = [args.program] if args.program is not None else range(args.programs)
    worst, failed = [0.0], 0
    for number in numbers:
        problems, p, at, vopt = check_program(torch, args.chainrule, args.seed, number,
                                              args.rtol, worst)
        if args.verbose or problems:
            print(f"---- program {number} (seed {args.seed}): {len(problems)} problems")
            print(p.text())
            print("-- PyTorch:")
            print(p.torch_text())
            print(f"-- --at {at}\n-- --v {vopt}")
        for msg in problems:
            print(f"FAIL program {number}: {msg}")
        if problems:
            failed += 1
            lib = os.environ.get("LD_LIBRARY_PATH")
            print(f"-- reproduce: {'LD_LIBRARY_PATH=' + lib + ' ' if lib else ''}"
                  f"{sys.executable} {sys.argv[0]} --chainrule {args.chainrule} "
                  f"--seed {args.seed} --program {number} -v")
    bad_rejects = 0
    for i, case in enumerate(rejects(args.seed, args.rejects if args.program is None else 0)):
        problems, at = check_reject(torch, args.chainrule, case)
        if problems or args.verbose:
            print(f"---- rejected program {i}:\n{case[0]}\n-- --at {at}")
        for msg in problems:
            print(f"FAIL rejected program {i}: {msg}")
        bad_rejects += bool(problems)
    print(f"crosscheck_programs: {len(numbers)} programs, {failed} failed, largest relative "
          f"difference {worst[0]:.3g}; {args.rejects if args.program is None else 0} "
          f"programs to reject, {bad_rejects} failed (seed {args.seed})")
    return 1 if failed or bad_rejects else 0


if __name__ == "__main__":
    sys.exit(main())
