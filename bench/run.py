#!/usr/bin/python3
"""run.py - the benchmark driver (make bench): runs chainrule and PyTorch on
the same work, alternating the two sides, several repetitions each, and
prints the medians and the chainrule/PyTorch ratio of every row.

  W1  MLP 784-128-10, batch 64, one epoch of Fashion-MNIST      samples/s
  W2  MLP 784-256-128-10, batch 256, one epoch                   samples/s,
      GFLOP/s of the matrix products against cblas_dgemm's (bench/dgemm_limit)
  W3  the article's 3-7-5-4-1 sigmoid network, 500 SGD steps     iterations/s
  W4  a scalar graph of ~91,000 nodes: build + forward, backward nodes/s
  W5  chainrule train (W1) against the same PyTorch script: wall time and
      peak memory from /usr/bin/time -v

Threads: chainrule through CR_NUM_THREADS (which sets OpenBLAS's too);
PyTorch through torch.set_num_threads (T) and OPENBLAS_NUM_THREADS (B). With
2 cores every PyTorch setting is run and the best is compared (and named).
Both sides compute in float64. Needs /usr/bin/python3 with PyTorch (Debian's
python3-torch): installed with apt-get when missing and run as root.

Usage: run.py --builddir DIR --srcdir DIR [--reps N] [--only W1,W3,...]
              [--data DIR] [--json OUT]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

PY = "/usr/bin/python3"
UNSTEADY = 1.3  # max/min of a row's repetitions beyond which the row is flagged


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
          "(run as root with apt-get): only chainrule's figures are measured.")
    return False


def run_json(cmd, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr))
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def time_v(cmd, env_extra):
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS in MiB)."""
    env = dict(os.environ)
    env.update(env_extra)
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), r.stderr[-2000:]))
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    h, m, s = wall.group(1), wall.group(2), wall.group(3)
    secs = (int(h) * 3600 if h else 0) + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return secs, rss / 1024.0


def torch_env(tt, bt):
    return {"OPENBLAS_NUM_THREADS": str(bt), "OMP_NUM_THREADS": str(tt),
            "MKL_NUM_THREADS": str(bt)}


def torch_settings(threads):
    """PyTorch thread settings (torch threads, BLAS threads) for a core count."""
    return [(1, 1)] if threads == 1 else [(1, 2), (2, 2), (2, 1)]


class Bench:
    def __init__(self, a):
        self.a = a
        self.b = a.builddir
        self.s = a.srcdir
        self.torch = a.torch
        self.rows = []

    def prog(self, name):
        return [os.path.join(self.b, "bench", name)]

    def peer(self, name):
        return [PY, os.path.join(self.s, "bench", "peers", name)]

    def measure(self, c_cmd, c_threads, p_cmd, settings, value, reps):
        """Alternates the chainrule command and every PyTorch setting reps
        times; returns (chainrule values, {setting: values}, last outputs)."""
        cvals, pvals, last = [], {s: [] for s in settings}, {}
        for r in range(reps):
            order = [None] + settings if r % 2 == 0 else settings + [None]
            for s in order:
                if s is None:
                    out, _ = run_json(c_cmd, {"CR_NUM_THREADS": str(c_threads)})
                    cvals.append(value(out))
                    last["chainrule"] = out
                elif self.torch:
                    out, _ = run_json(p_cmd(s), torch_env(*s))
                    pvals[s].append(value(out))
                    last[s] = out
        return cvals, pvals, last

    def add(self, name, threads, unit, cvals, pvals, higher_better=True, note=""):
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
               "pytorch": best, "pytorch_setting": "T%d+B%d" % bests if bests else None,
               "ratio": ratio, "note": note,
               "chainrule_range": [min(cvals), max(cvals)],
               "pytorch_range": [min(pvals[bests]), max(pvals[bests])] if bests else None,
               "pytorch_all": {"T%d+B%d" % s: statistics.median(v)
                               for s, v in pvals.items() if v}}
        self.rows.append(row)
        print("  %-28s t=%d  chainrule %12.5g  pytorch %12s (%s)  ratio %s  %s" % (
            name, threads, cm, "%.5g" % best if best else "-",
            row["pytorch_setting"] or "-", "%.2fx" % ratio if ratio else "-", note),
            flush=True)
        # Repetitions far apart mean the machine changed under the run (on a
        # shared or virtual machine, minutes-long slow spells): say so.
        for side, vals in (("chainrule", cvals), ("pytorch", pvals.get(bests, []))):
            if len(vals) > 1 and min(vals) > 0 and max(vals) / min(vals) > UNSTEADY:
                print("    unsteady: %s's repetitions ranged %.5g to %.5g; the machine "
                      "may be in a slow spell, re-run this row" % (side, min(vals),
                                                                    max(vals)), flush=True)
        return row

    def dgemm(self, threads):
        vals = []
        for _ in range(self.a.reps):
            out, _ = run_json(self.prog("dgemm_limit"), {"CR_NUM_THREADS": str(threads)})
            vals.append(out["step_gflops"])
        return statistics.median(vals)

    def mlp(self, wname, arch, batch, threads, reps):
        d = self.a.data
        c_cmd = self.prog("w12_mlp") + [d, arch, str(batch)]
        p_cmd = lambda s: self.peer("w12_mlp.py") + [d, arch, str(batch), str(s[0])]
        settings = torch_settings(threads)
        cv, pv, last = self.measure(c_cmd, threads, p_cmd, settings,
                                    lambda o: o["per_second"], reps)
        loss = last["chainrule"]["epoch_loss"]
        note = "epoch loss %.12g" % loss
        if settings[0] in last:
            note += " (pytorch %.12g)" % last[settings[0]]["epoch_loss"]
        row = self.add(wname + " samples/s", threads, "samples/s", cv, pv, note=note)
        if wname == "W2":
            lim = self.dgemm(threads)
            fl = lambda v: v * last["chainrule"]["gflops"] / last["chainrule"]["per_second"]
            cg = fl(row["chainrule"])
            pg = fl(row["pytorch"]) if row["pytorch"] else None
            self.rows.append({"row": "W2 GFLOP/s (dgemm limit %.2f)" % lim, "threads": threads,
                              "unit": "GFLOP/s", "chainrule": cg, "pytorch": pg,
                              "pytorch_setting": row["pytorch_setting"],
                              "ratio": cg / lim, "note": "ratio = chainrule / dgemm limit",
                              "dgemm": lim})
            print("  %-28s t=%d  chainrule %12.5g  pytorch %12s  dgemm %.5g  (%.0f%% of dgemm)"
                  % ("W2 GFLOP/s", threads, cg, "%.5g" % pg if pg else "-", lim,
                     100 * cg / lim), flush=True)

    def w3(self):
        c = self.prog("w3_article_mlp") + ["500"]
        p = lambda s: self.peer("w3_article_mlp.py") + ["500", str(s[0])]
        cv, pv, last = self.measure(c, 1, p, [(1, 1)], lambda o: o["per_second"],
                                    self.a.reps)
        self.add("W3 iterations/s", 1, "it/s", cv, pv,
                 note="final loss %.12g" % last["chainrule"]["final_loss"])

    def w4(self):
        c = self.prog("w4_scalar_graph")
        p = lambda s: self.peer("w4_scalar_graph.py")
        outs = {"c": [], "p": []}
        for r in range(self.a.reps):
            for side in (["c", "p"] if r % 2 == 0 else ["p", "c"]):
                if side == "c":
                    outs["c"].append(run_json(c, {"CR_NUM_THREADS": "1"})[0])
                elif self.torch:
                    outs["p"].append(run_json(p(None), torch_env(1, 1))[0])
        n = outs["c"][0]["nodes"]
        for phase, key in (("build+forward", "build_forward_s"), ("backward", "backward_s")):
            self.add("W4 %s nodes/s" % phase, 1, "nodes/s",
                     [n / o[key] for o in outs["c"]],
                     {(1, 1): [n / o[key] for o in outs["p"]]},
                     note="%d nodes" % n)
        self.add("W4 re-run backward nodes/s", 1, "nodes/s",
                 [n / o["rerun_backward_s"] for o in outs["c"]],
                 {(1, 1): [n / o["backward_s"] for o in outs["p"]]},
                 note="steady state vs PyTorch's (only) backward")

    def w5(self, threads):
        d = self.a.data
        c = [os.path.join(self.b, "chainrule"), "train",
             "--idx-images", d + "/train-images-idx3-ubyte.gz",
             "--idx-labels", d + "/train-labels-idx1-ubyte.gz", "--arch", "784,128,10",
             "--epochs", "1", "--batch", "64", "--opt", "sgd", "--lr", "0.01", "--quiet"]
        settings = torch_settings(threads)
        cw, cm, pw, pm = [], [], {s: [] for s in settings}, {s: [] for s in settings}
        for r in range(self.a.reps):
            for s in ([None] + settings if r % 2 == 0 else settings + [None]):
                if s is None:
                    w, m = time_v(c, {"CR_NUM_THREADS": str(threads)})
                    cw.append(w)
                    cm.append(m)
                elif self.torch:
                    w, m = time_v(self.peer("w5_train.py") + [d, str(s[0])], torch_env(*s))
                    pw[s].append(w)
                    pm[s].append(m)
        self.add("W5 wall s (lower better)", threads, "s", cw, pw, higher_better=False,
                 note="ratio = pytorch / chainrule")
        self.add("W5 peak MiB (lower better)", threads, "MiB", cm, pm, higher_better=False,
                 note="ratio = pytorch / chainrule")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=".")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="W1,W2,W3,W4,W5")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--json", default="bench-results.json")
    a = ap.parse_args()
    a.torch = ensure_torch()
    only = a.only.split(",")
    threads = [int(t) for t in a.threads.split(",")]
    b = Bench(a)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.*)", cpu)
    load0 = os.getloadavg()[0]
    print("chainrule vs PyTorch, %s, CPU %s, %d cores, %d repetitions, medians; "
          "load average %.2f at the start" % (
              time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              model.group(1) if model else "?", os.cpu_count(), a.reps, load0), flush=True)
    if load0 > 0.5:
        print("warning: the machine is busy (load %.2f): other jobs share the cores, "
              "so the 2-thread rows and the absolute figures suffer" % load0)
    if not os.path.exists(os.path.join(a.data, "train-images-idx3-ubyte.gz")):
        print("no Fashion-MNIST at %s (apt-get install dataset-fashion-mnist): "
              "W1, W2, W5 skipped" % a.data)
        only = [w for w in only if w not in ("W1", "W2", "W5")]
    for t in threads:
        if "W1" in only:
            b.mlp("W1", "784,128,10", 64, t, a.reps)
        if "W2" in only:
            b.mlp("W2", "784,256,128,10", 256, t, a.reps)
    if "W3" in only:
        b.w3()
    if "W4" in only:
        b.w4()
    if "W5" in only:
        for t in threads:
            b.w5(t)
    load1 = os.getloadavg()[0]
    with open(a.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                   "cpu": model.group(1) if model else None, "reps": a.reps,
                   "load_start": load0, "load_end": load1, "rows": b.rows}, f, indent=1)
    print("load average %.2f at the end" % load1)
    def num(v):
        return "{:,.0f}".format(v) if v >= 1000 else "%.3g" % v

    print("\n| row | threads | chainrule | PyTorch (best setting) | ratio |")
    print("|---|---|---|---|---|")
    for r in b.rows:
        print("| %s | %d | %s | %s | %s |" % (
            r["row"], r["threads"], num(r["chainrule"]),
            "%s (%s)" % (num(r["pytorch"]), r["pytorch_setting"]) if r["pytorch"] else "-",
            "%.2f" % r["ratio"] if r["ratio"] else "-"))
    print("\n(ratios: chainrule/PyTorch for rates, PyTorch/chainrule for W5, "
          "chainrule/dgemm for the GFLOP/s rows; results in %s)" % a.json)


if __name__ == "__main__":
    main()
