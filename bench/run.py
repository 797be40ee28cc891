#!/usr/bin/python3
"""run.py - the benchmark driver (make bench): runs chainrule and its peers on
the same work, alternating the sides, several repetitions each, and prints
the medians and the chainrule/peer ratio of every row.

  W1  MLP 784-128-10, batch 64, one epoch of Fashion-MNIST      samples/s
  W2  MLP 784-256-128-10, batch 256, one epoch                   samples/s,
      GFLOP/s of the matrix products against cblas_dgemm's (bench/dgemm_limit)
  W3  the article's 3-7-5-4-1 sigmoid network, 500 SGD steps     iterations/s
  W4  a scalar MLP 128-168-168-1 built micrograd-style, one mul and one add
      node per weight (100,131 op nodes on every side), against PyTorch 0-dim
      tensors and a plain-Python Value class: op nodes/s for build + forward,
      the first backward, a re-run of the backward and a steady-state step;
      and the same network with one n-ary sop node per neuron against one
      torch.dot per neuron (milliseconds)
  W5  chainrule train (W1) against the same PyTorch script: wall time and
      peak memory from /usr/bin/time -v, and the wall time without PyTorch's
      start-up (python + import torch, also measured alone)
  W6  single new ops on Fashion-MNIST-sized batches (bench/w6_ops.c against
      bench/peers/w6_ops.py): conv2d 1->32 and 32->64, max_pool2d,
      layer_norm, batched matmul; forward + backward steps per second, and
      the convolutions' GFLOP/s as a share of dgemm on their own products
  W7  the README's Fashion-MNIST CNN (conv2d 32 and 64, max pooling, dense
      128, dropout, Adam, batch 64): one epoch of `chainrule train --layers`
      against bench/peers/w7_cnn.py on the first --cnn-rows training images
      (written to a scratch directory), samples/s of the epoch
  W8  a character LSTM (embed 32, LSTM 128, dense V) on GPL-3's bytes in
      windows of 64, batch 32, Adam: two epochs' training windows/s
      (bench/w8_char_lstm.c against torch.nn.LSTM, bench/peers/w8_char_lstm.py)

BLAS environment: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, when set, change
which OpenBLAS kernels both sides get. The table is measured with the
environment as it is; with --blas-env both (the default) W1 and W2 are
measured once more with both variables removed on both sides (rows marked
"BLAS env unset"). The driver never sets them.

Threads: chainrule through CR_NUM_THREADS (which sets OpenBLAS's too);
PyTorch through torch.set_num_threads (T) and OPENBLAS_NUM_THREADS (B). With
2 cores every PyTorch setting is run and the best is compared (and named);
at 1 thread W1/W2's peer also runs with the batch gathered into a fresh
tensor ("gather") besides the default view of the rows. Both sides compute
in float64. Needs /usr/bin/python3 with PyTorch (Debian's python3-torch):
installed with apt-get when missing and run as root.

Usage: run.py --builddir DIR --srcdir DIR [--reps N] [--only W1,W3,...]
              [--threads 1,2] [--blas-env as-is|unset|both] [--data DIR]
              [--cnn-rows N] [--json OUT]
"""
import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3"
UNSTEADY = 1.3  # max/min of a row's repetitions beyond which the row is flagged
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def have_torch():
    return subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0


def ensure_torch():
    if have_torch():
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("PyTorch missing: installing python3-torch with apt-get ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "python3-torch"])
        if have_torch():
            return True
    print("PyTorch (python3-torch) is not installed and cannot be installed here "
          "(run as root with apt-get): only chainrule's figures and the plain-Python "
          "W4 rows are measured.")
    return False


class Env:
    """The environment of one measurement: variables to set and to remove."""

    def __init__(self, unset=()):
        self.unset = tuple(unset)

    def make(self, extra):
        env = dict(os.environ)
        for v in self.unset:
            env.pop(v, None)
        # the peers import bench/peers/bench_util.py: no __pycache__ in the sources
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra)
        return env


def run_json(cmd, env):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr))
    return json.loads(r.stdout.strip().splitlines()[-1])


def time_v(cmd, env):
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS in MiB, the
    last line of its standard output)."""
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), r.stderr[-2000:]))
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    h, m, s = wall.group(1), wall.group(2), wall.group(3)
    secs = (int(h) * 3600 if h else 0) + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    lines = r.stdout.strip().splitlines()
    return secs, rss / 1024.0, lines[-1] if lines else ""


def torch_env(tt, bt):
    return {"OPENBLAS_NUM_THREADS": str(bt), "OMP_NUM_THREADS": str(tt),
            "MKL_NUM_THREADS": str(bt)}


def torch_settings(threads):
    """PyTorch thread settings (torch threads, BLAS threads) for a core count."""
    return [(1, 1)] if threads == 1 else [(1, 2), (2, 2), (2, 1)]


def fmt(v):
    return "{:,.0f}".format(v) if v >= 1000 else "%.3g" % v


class Peer:
    """One way to run the other side: a name for the table ("T1+B1",
    "T1+B1 gather", "Python Value"), a command and its extra variables."""

    def __init__(self, name, cmd, extra):
        self.name, self.cmd, self.extra = name, cmd, extra


class Bench:
    def __init__(self, a):
        self.a = a
        self.b = a.builddir
        self.s = a.srcdir
        self.torch = a.torch
        self.rows = []
        self.env = Env()
        self.tag = ""

    def prog(self, name):
        return [os.path.join(self.b, "bench", name)]

    def peer(self, name):
        return [PY, os.path.join(self.s, "bench", "peers", name)]

    def torch_peers(self, threads, cmd):
        """The PyTorch settings for threads; cmd(tt) gives the argv."""
        if not self.torch:
            return []
        return [Peer("T%d+B%d" % (tt, bt), cmd(tt), torch_env(tt, bt))
                for tt, bt in torch_settings(threads)]

    def measure(self, c_cmd, c_threads, peers, value, reps):
        """Alternates the chainrule command and every peer reps times;
        returns (chainrule values, {peer name: values}, last outputs)."""
        cvals, pvals, last = [], {p.name: [] for p in peers}, {}
        for r in range(reps):
            order = [None] + peers if r % 2 == 0 else peers + [None]
            for p in order:
                if p is None:
                    out = run_json(c_cmd, self.env.make({"CR_NUM_THREADS": str(c_threads)}))
                    cvals.append(value(out))
                    last["chainrule"] = out
                else:
                    out = run_json(p.cmd, self.env.make(p.extra))
                    pvals[p.name].append(value(out))
                    last[p.name] = out
        return cvals, pvals, last

    def add(self, name, threads, unit, cvals, pvals, higher_better=True, note="",
            peer="PyTorch"):
        """A row: chainrule's median against the best median of the peer's
        settings. The ratio is chainrule/peer for rates, peer/chainrule
        for times and sizes (higher is better for chainrule either way)."""
        name += self.tag
        cm = statistics.median(cvals)
        best, bests = None, None
        for s, v in pvals.items():
            if not v:
                continue
            m = statistics.median(v)
            if best is None or (m > best if higher_better else m < best):
                best, bests = m, s
        ratio = None
        if best:
            ratio = cm / best if higher_better else best / cm
        row = {"row": name, "threads": threads, "unit": unit, "chainrule": cm,
               "peer": peer, "peer_value": best, "peer_setting": bests,
               "higher_better": higher_better, "ratio": ratio, "note": note,
               "blas_env": "unset" if self.env.unset else "as-is",
               "chainrule_range": [min(cvals), max(cvals)],
               "peer_range": [min(pvals[bests]), max(pvals[bests])] if bests else None,
               "peer_all": {s: statistics.median(v) for s, v in pvals.items() if v}}
        self.rows.append(row)
        print("  %-44s t=%d  chainrule %12.5g  %s %12s (%s)  ratio %s  %s" % (
            name, threads, cm, peer, "%.5g" % best if best else "-", bests or "-",
            "%.2fx" % ratio if ratio else "-", note), flush=True)
        # Repetitions far apart mean the machine changed under the run (on a
        # shared or virtual machine, minutes-long slow spells): say so.
        for side, vals in (("chainrule", cvals), (peer, pvals.get(bests, []))):
            if len(vals) > 1 and min(vals) > 0 and max(vals) / min(vals) > UNSTEADY:
                print("    unsteady: %s's repetitions ranged %.5g to %.5g; the machine "
                      "may be in a slow spell, re-run this row" % (side, min(vals),
                                                                    max(vals)), flush=True)
        return row

    def dgemm(self, threads):
        vals = []
        for _ in range(self.a.reps):
            out = run_json(self.prog("dgemm_limit"),
                           self.env.make({"CR_NUM_THREADS": str(threads)}))
            vals.append(out["step_gflops"])
        return statistics.median(vals)

    def mlp(self, wname, arch, batch, threads, reps):
        d = self.a.data
        c_cmd = self.prog("w12_mlp") + [d, arch, str(batch)]
        peers = self.torch_peers(
            threads, lambda tt: self.peer("w12_mlp.py") + [d, arch, str(batch), str(tt)])
        if threads == 1 and self.torch:
            peers.append(Peer("T1+B1 gather", self.peer("w12_mlp.py") +
                              [d, arch, str(batch), "1", "gather"], torch_env(1, 1)))
        cv, pv, last = self.measure(c_cmd, threads, peers, lambda o: o["per_second"], reps)
        loss = last["chainrule"]["epoch_loss"]
        note = "epoch loss %.12g" % loss
        if peers:
            note += " (pytorch %.12g)" % last[peers[0].name]["epoch_loss"]
        row = self.add(wname + " samples/s", threads, "samples/s", cv, pv, note=note)
        if wname == "W2":
            lim = self.dgemm(threads)
            fl = lambda v: v * last["chainrule"]["gflops"] / last["chainrule"]["per_second"]
            cg = fl(row["chainrule"])
            pg = fl(row["peer_value"]) if row["peer_value"] else None
            self.rows.append({"row": "W2 GFLOP/s (dgemm limit %.2f)%s" % (lim, self.tag),
                              "threads": threads, "unit": "GFLOP/s", "chainrule": cg,
                              "peer": "PyTorch", "peer_value": pg,
                              "peer_setting": row["peer_setting"], "higher_better": True,
                              "ratio": cg / lim, "note": "ratio = chainrule / dgemm limit",
                              "blas_env": row["blas_env"], "dgemm": lim})
            print("  %-44s t=%d  chainrule %12.5g  pytorch %12s  dgemm %.5g  (%.0f%% of dgemm)"
                  % ("W2 GFLOP/s" + self.tag, threads, cg, "%.5g" % pg if pg else "-", lim,
                     100 * cg / lim), flush=True)

    def w3(self):
        c = self.prog("w3_article_mlp") + ["500"]
        peers = self.torch_peers(1, lambda tt: self.peer("w3_article_mlp.py") + ["500", str(tt)])
        cv, pv, last = self.measure(c, 1, peers, lambda o: o["per_second"], self.a.reps)
        self.add("W3 iterations/s", 1, "it/s", cv, pv,
                 note="final loss %.12g" % last["chainrule"]["final_loss"])

    def w4(self):
        """Every engine once per repetition, in turn, the order reversed
        every other repetition; then one row per phase and peer."""
        engines = [("c", self.prog("w4_scalar_graph") + ["ops"]),
                   ("v", self.peer("w4_value.py")),
                   ("c_sop", self.prog("w4_scalar_graph") + ["sop"])]
        if self.torch:
            engines += [("p", self.peer("w4_scalar_graph.py") + ["ops"]),
                        ("p_sop", self.peer("w4_scalar_graph.py") + ["sop"])]
        outs = {k: [] for k, _ in engines}
        for r in range(self.a.reps):
            for k, cmd in (engines if r % 2 == 0 else engines[::-1]):
                extra = {"CR_NUM_THREADS": "1"}
                extra.update(torch_env(1, 1))
                outs[k].append(run_json(cmd, self.env.make(extra)))
        n = outs["c"][0]["op_nodes"]
        for k in ("v", "p"):
            if outs.get(k) and outs[k][0]["op_nodes"] != n:
                print("warning: W4's graphs differ: chainrule %d op nodes, %s %d" % (
                    n, k, outs[k][0]["op_nodes"]))
        agree = "outputs %.15g / %s; gradient sums %.15g / %s" % (
            outs["c"][0]["output"], " / ".join(
                "%.15g" % outs[k][0]["output"] for k in ("p", "v") if outs.get(k)),
            outs["c"][0]["grad_sum"], " / ".join(
                "%.15g" % outs[k][0]["grad_sum"] for k in ("p", "v") if outs.get(k)))
        print("  W4: %d op nodes on every side; %s (chainrule / PyTorch / Python)" % (
            n, agree), flush=True)
        phases = (("build+forward", "build_forward_s"), ("first backward", "backward_s"),
                  ("re-run backward", "rerun_backward_s"),
                  ("steady-state step", "step_s"))
        for label, key in phases:
            rate = lambda o: o["op_nodes"] / o[key]
            for k, peer in (("p", "PyTorch"), ("v", "Python Value")):
                if outs.get(k):
                    self.add("W4 %s op nodes/s" % label, 1, "nodes/s",
                             [rate(o) for o in outs["c"]],
                             {"T1+B1" if k == "p" else "1 thread": [rate(o) for o in outs[k]]},
                             note="%d op nodes" % n, peer=peer)
        for label, key in phases:
            ms = lambda o: 1000 * o[key]
            self.add("W4-sop %s ms (lower better)" % label, 1, "ms",
                     [ms(o) for o in outs["c_sop"]],
                     {"T1+B1 dot": [ms(o) for o in outs.get("p_sop", [])]},
                     higher_better=False, note="one sop / one torch.dot per neuron")

    def w6(self):
        """The new ops (bench/w6_ops.c, bench/peers/w6_ops.py): forward +
        backward steps per second of each, one thread; for the
        convolutions, their kernels' GFLOP/s as a share of dgemm's on the
        same products."""
        for row in ("conv2d_1x32", "conv2d_32x64", "max_pool2d", "layer_norm", "bmm"):
            c = self.prog("w6_ops") + ["2", row]
            peers = self.torch_peers(
                1, lambda tt, row=row: self.peer("w6_ops.py") + ["2", row, str(tt)])
            cv, pv, last = self.measure(c, 1, peers, lambda o: o.get("per_second", 0),
                                        self.a.reps)
            note = ""
            if "pct_of_dgemm" in last["chainrule"]:
                note = "conv kernels %.1f GFLOP/s, %.0f%% of their dgemm" % (
                    last["chainrule"]["gflops"], last["chainrule"]["pct_of_dgemm"])
            self.add("W6 %s steps/s" % row, 1, "steps/s", cv, pv, note=note)

    def w8(self, threads):
        """The character LSTM (bench/w8_char_lstm.c, bench/peers/w8_char_lstm.py):
        training windows per second over 2 epochs of GPL-3, embed 32,
        LSTM 128, batch 32, windows of 64 bytes."""
        text = "/usr/share/common-licenses/GPL-3"
        c = self.prog("w8_char_lstm") + [text, "2", "128"]
        peers = self.torch_peers(
            threads, lambda tt: self.peer("w8_char_lstm.py") + [text, "2", "128", str(tt)])
        cv, pv, last = self.measure(c, threads, peers, lambda o: o.get("per_second", 0),
                                    self.a.reps)
        self.add("W8 char LSTM windows/s", threads, "windows/s", cv, pv,
                 note="embed 32, lstm 128, 64 steps, batch 32")

    def w5(self, threads):
        d = self.a.data
        c = [os.path.join(self.b, "chainrule"), "train",
             "--idx-images", d + "/train-images-idx3-ubyte.gz",
             "--idx-labels", d + "/train-labels-idx1-ubyte.gz", "--arch", "784,128,10",
             "--epochs", "1", "--batch", "64", "--opt", "sgd", "--lr", "0.01", "--quiet"]
        settings = torch_settings(threads) if self.torch else []
        names = ["T%d+B%d" % s for s in settings]
        cw, cm = [], []
        pw, pm, pwork = ({n: [] for n in names} for _ in range(3))
        start_w, start_m = [], []
        for r in range(self.a.reps):
            order = [None] + settings if r % 2 == 0 else settings + [None]
            for s in order:
                if s is None:
                    w, m, _ = time_v(c, self.env.make({"CR_NUM_THREADS": str(threads)}))
                    cw.append(w)
                    cm.append(m)
                    continue
                n = "T%d+B%d" % s
                w, m, line = time_v(self.peer("w5_train.py") + [d, str(s[0])],
                                    self.env.make(torch_env(*s)))
                pw[n].append(w)
                pm[n].append(m)
                pwork[n].append(json.loads(line)["after_import_s"])
            if settings:
                w, m, _ = time_v([PY, "-c", "import torch"], self.env.make(torch_env(1, 1)))
                start_w.append(w)
                start_m.append(m)
        start = ""
        if start_w:
            start = "; PyTorch's start-up alone (python3 -c 'import torch') %.2f s, %.0f MiB" % (
                statistics.median(start_w), statistics.median(start_m))
        self.add("W5 wall s (lower better)", threads, "s", cw, pw, higher_better=False,
                 note="whole processes" + start)
        self.add("W5 wall s after PyTorch's import", threads, "s", cw, pwork,
                 higher_better=False, note="chainrule's whole process against PyTorch's "
                 "work after `import torch`")
        self.add("W5 peak MiB (lower better)", threads, "MiB", cm, pm, higher_better=False,
                 note="whole processes")

    def w7(self, threads):
        """The CNN of the README, one epoch on the first cnn_rows images
        (both sides read the same scratch IDX files)."""
        spec = ("conv2d:32,3x3,pad=1 relu maxpool:2 conv2d:64,3x3,pad=1 relu maxpool:2 "
                "flatten dense:128 relu dropout:0.3 dense:10")
        with tempfile.TemporaryDirectory(prefix="cr-w7-") as d:
            n = idx_head(self.a.data, d, self.a.cnn_rows)
            c = [os.path.join(self.b, "chainrule"), "train",
                 "--idx-images", d + "/train-images-idx3-ubyte.gz",
                 "--idx-labels", d + "/train-labels-idx1-ubyte.gz", "--layers", spec,
                 "--shape", "1,28,28", "--epochs", "1", "--batch", "64", "--opt", "adam",
                 "--lr", "0.001", "--quiet", "--json"]
            peers = self.torch_peers(
                threads, lambda tt: self.peer("w7_cnn.py") + [d, str(tt), "1", "0", "64"])
            cv, pv, last = self.measure(
                c, threads, peers,
                lambda o: o["per_second"] if "per_second" in o else o["train_rows"] / o["seconds"],
                self.a.reps)
            note = "%d rows; epoch loss %.4g" % (n, last["chainrule"]["history"][0]["loss"])
            if peers:
                note += " (pytorch %.4g)" % last[peers[0].name]["epoch_loss"]
            self.add("W7 CNN samples/s", threads, "samples/s", cv, pv, note=note)


def idx_head(src, dst, rows):
    """Writes the first rows Fashion-MNIST training images and labels of src
    as gzip'd IDX files into dst; returns how many were written."""
    import gzip
    import struct
    with gzip.open(os.path.join(src, "train-labels-idx1-ubyte.gz"), "rb") as f:
        lab = f.read()
    with gzip.open(os.path.join(src, "train-images-idx3-ubyte.gz"), "rb") as f:
        img = f.read()
    n = min(rows, struct.unpack(">I", lab[4:8])[0])
    with gzip.open(os.path.join(dst, "train-labels-idx1-ubyte.gz"), "wb", 1) as f:
        f.write(struct.pack(">II", 0x801, n) + lab[8:8 + n])
    with gzip.open(os.path.join(dst, "train-images-idx3-ubyte.gz"), "wb", 1) as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + img[16:16 + n * 784])
    return n


def git_revision(srcdir):
    r = subprocess.run(["git", "-C", srcdir, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "unknown (not a git tree)"
    dirty = subprocess.run(["git", "-C", srcdir, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return r.stdout.strip() + (" with uncommitted changes" if dirty else "")


def torch_version():
    r = subprocess.run([PY, "-c", "import torch; print(torch.__version__)"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "not installed"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=".")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="W1,W2,W3,W4,W5,W6,W7,W8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--blas-env", choices=("as-is", "unset", "both"), default="both",
                    help="measure with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as they are, "
                    "removed, or both (the removed run: W1 and W2 only)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--cnn-rows", type=int, default=4096,
                    help="W7 trains on this many images (default 4096)")
    ap.add_argument("--json", default="bench-results.json")
    a = ap.parse_args()
    a.torch = ensure_torch()
    only = a.only.split(",")
    threads = [int(t) for t in a.threads.split(",")]
    b = Bench(a)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.*)", cpu)
    load0 = os.getloadavg()
    rev = git_revision(a.srcdir)
    blas = {v: os.environ.get(v) for v in BLAS_VARS}
    command = "cd %s && %s %s" % (shlex.quote(os.getcwd()), PY,
                                  " ".join(shlex.quote(x) for x in sys.argv))
    print("chainrule vs PyTorch, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print("load average %.2f %.2f %.2f at the start" % load0)
    print("git revision %s" % rev)
    print("CPU %s, %d cores; Python %s, PyTorch %s; %s" % (
        model.group(1) if model else "?", os.cpu_count(), platform.python_version(),
        torch_version(), ", ".join("%s=%s" % (k, v if v is not None else "(unset)")
                                   for k, v in blas.items())))
    print("%d repetitions, medians; command: %s" % (a.reps, command), flush=True)
    if load0[0] > 0.5:
        print("warning: the machine is busy (load %.2f): other jobs share the cores, "
              "so the 2-thread rows and the absolute figures suffer" % load0[0])
    if not os.path.exists(os.path.join(a.data, "train-images-idx3-ubyte.gz")):
        print("no Fashion-MNIST at %s (apt-get install dataset-fashion-mnist): "
              "W1, W2, W5, W7 skipped" % a.data)
        only = [w for w in only if w not in ("W1", "W2", "W5", "W7")]

    def w12():
        for t in threads:
            if "W1" in only:
                b.mlp("W1", "784,128,10", 64, t, a.reps)
            if "W2" in only:
                b.mlp("W2", "784,256,128,10", 256, t, a.reps)

    if a.blas_env in ("as-is", "both"):
        w12()
        if "W3" in only:
            b.w3()
        if "W4" in only:
            b.w4()
        if "W5" in only:
            for t in threads:
                b.w5(t)
        if "W6" in only:
            b.w6()
        if "W7" in only:
            for t in threads:
                b.w7(t)
        if "W8" in only:
            for t in threads:
                b.w8(t)
    if a.blas_env in ("unset", "both") and ("W1" in only or "W2" in only):
        if a.blas_env == "both" and not any(blas.values()):
            print("neither %s is set: no second run of W1/W2 without them" %
                  " nor ".join(BLAS_VARS))
        else:
            b.env, b.tag = Env(BLAS_VARS), ", BLAS env unset"
            print("with %s removed from both sides' environment:" % " and ".join(BLAS_VARS),
                  flush=True)
            w12()
    load1 = os.getloadavg()
    with open(a.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                   "git_revision": rev, "command": command,
                   "cpu": model.group(1) if model else None, "reps": a.reps,
                   "blas_env": blas, "load_start": load0, "load_end": load1,
                   "rows": b.rows}, f, indent=1)
    print("load average %.2f %.2f %.2f at the end" % load1)

    print("\n| row | threads | chainrule | peer (best setting) | ratio |")
    print("|---|---|---|---|---|")
    for r in b.rows:
        peer = "-"
        if r["peer_value"]:
            peer = "%s %s (%s)" % (r["peer"], fmt(r["peer_value"]), r["peer_setting"])
        print("| %s | %d | %s | %s | %s |" % (
            r["row"], r["threads"], fmt(r["chainrule"]), peer,
            "%.2f" % r["ratio"] if r["ratio"] else "-"))
    print("\n(ratios: chainrule/peer for rates, peer/chainrule for times and sizes "
          "(lower better), chainrule/dgemm for the GFLOP/s rows: above 1 chainrule is "
          "ahead; results in %s)" % a.json)
    print("reproduce (at git revision %s): %s" % (rev, command))


if __name__ == "__main__":
    main()
