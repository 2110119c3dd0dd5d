"""What every benchmark script shares: where seq2seq and the corpora are, the processor and versions
recorded with each result, running one measurement in its own process, summary statistics, tables
and the JSON file.

Only the standard library is imported here, so `--help` works before benchmarks/setup.sh has run.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
RESULTS = os.path.join(BENCH_DIR, "results")
# Derived files (converted and quantized models, translations, trained runs): inside results/, which
# git ignores.
WORK = os.path.join(RESULTS, "work")


def die(message):
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def int_list(text):
    """'1,2' -> [1, 2] (for argparse)."""
    try:
        values = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got '{text}'")
    return values


def word_list(choices):
    """An argparse type: comma-separated words, each one of `choices`."""
    def parse(text):
        words = [w.strip() for w in str(text).split(",") if w.strip()]
        bad = [w for w in words if w not in choices]
        if not words or bad:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (got '{text}')")
        return words
    parse.__name__ = "list of " + "/".join(choices)
    return parse


# ---- seq2seq and the corpora ----

def seq2seq_binary():
    """$SEQ2SEQ, else the release build of this checkout."""
    path = os.environ.get("SEQ2SEQ") or os.path.join(REPO, ".build", "release", "seq2seq")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        origin = "$SEQ2SEQ" if os.environ.get("SEQ2SEQ") else "the release build"
        die(f"no seq2seq binary at {path} ({origin}): build it with `swift build -c release` in {REPO}, "
            f"or set SEQ2SEQ to the binary")
    return path


def corpora_roots():
    """Where corpora are looked for, in order: $SEQ2SEQ_CORPORA, ../shared/corpora beside the
    repository, corpora/downloaded (written by corpora/fetch.sh)."""
    roots = []
    if os.environ.get("SEQ2SEQ_CORPORA"):
        roots.append(os.environ["SEQ2SEQ_CORPORA"])
    roots.append(os.path.join(os.path.dirname(REPO), "shared", "corpora"))
    roots.append(os.path.join(REPO, "corpora", "downloaded"))
    return roots


def corpus_files(*relative):
    """Absolute paths of `relative` (e.g. 'multi30k/train.de') under the first corpora root that has
    them all; stops with a message naming what is missing and where it looked."""
    for root in corpora_roots():
        paths = [os.path.join(root, r) for r in relative]
        if all(os.path.isfile(p) for p in paths):
            return paths
    looked = "\n".join(f"  {r}" + ("  ($SEQ2SEQ_CORPORA)" if r == os.environ.get("SEQ2SEQ_CORPORA") else "")
                       for r in corpora_roots())
    die(f"corpus files not found: {', '.join(relative)}\nlooked in:\n{looked}\n"
        f"fetch them with `bash corpora/fetch.sh` (into corpora/downloaded) or set SEQ2SEQ_CORPORA "
        f"to a folder holding {', '.join(sorted({r.split('/')[0] + '/' for r in relative}))}")


def read_lines(path):
    """Lines as seq2seq reads them: split at \\n only (not at other Unicode line breaks), a final
    newline does not start an empty line, a trailing \\r is dropped."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# ---- the machine and the software ----

def processor():
    """Model name and the instruction-set flags that decide which kernels run."""
    name, flags = platform.processor() or "unknown", set()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"),
                             check=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                name = value.strip()
            elif key.strip() == "Flags":
                flags = set(value.split())
    except (OSError, subprocess.CalledProcessError):
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key.strip() == "model name":
                        name = value.strip()
                    elif key.strip() == "flags":
                        flags = set(value.split())
        except OSError:
            pass
    wanted = ["avx2", "avx512f", "avx512_bf16", "avx512_vnni"]
    return dict(model_name=name, flags={f: f in flags for f in wanted}, cpus=os.cpu_count())


def seq2seq_version(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
        return (out.stdout.strip() or out.stderr.strip()).splitlines()
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"unknown ({e})"]


def package_versions(names):
    """Installed versions, read from package metadata (nothing is imported)."""
    from importlib import metadata
    versions = {}
    for n in names:
        try:
            versions[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            versions[n] = None
    return versions


def environment(binary, packages):
    """Recorded in every result file and printed at the start of every run. OPENBLAS_* variables
    are only reported, never changed: they decide OpenBLAS's kernels for seq2seq."""
    return dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        processor=processor(),
        seq2seq=binary, seq2seq_version=seq2seq_version(binary),
        python=platform.python_version(), packages=package_versions(packages),
        openblas_env={k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS")},
        loadavg_1m_at_start=round(os.getloadavg()[0], 2),
        command=" ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
    )


def print_environment(env):
    p = env["processor"]
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in p["flags"].items())
    print(f"processor: {p['model_name']} ({p['cpus']} CPUs); {flags}")
    for line in env["seq2seq_version"]:
        print(f"seq2seq: {line}")
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    print(f"python {env['python']}" + (f"; {packages}" if packages else ""))
    blas = " ".join(f"{k}={v}" for k, v in env["openblas_env"].items()) or "none set"
    print(f"OPENBLAS_* variables (left as they are): {blas}")
    load = env["loadavg_1m_at_start"]
    print(f"1-minute load average at start: {load}")
    if load > 0.5:
        print("warning: the machine is busy; run one benchmark at a time with nothing else running, "
              "or the figures measure the other jobs too")
    sys.stdout.flush()


# ---- running measurements ----

def schedule(rounds, threads, items, describe=str):
    """The order of measurements: each round, every thread count, every item (a side, a tool, an
    engine), the items' order flipping from one round to the next so that no side always goes
    first. Announces each measurement before it runs."""
    for rnd in range(1, rounds + 1):
        for t in threads:
            for item in (items if rnd % 2 else items[::-1]):
                print(f"round {rnd}/{rounds}, {t} thread{'s' if t > 1 else ''}: {describe(item)} ...", flush=True)
                yield rnd, t, item


def run_seq2seq(binary, args, log_file=None):
    """Runs `seq2seq ARGS`: returns (stdout, wall seconds). stderr goes to the terminal, or to
    `log_file`. A failure raises RuntimeError with the command and its last lines of output."""
    cmd = [binary] + [str(a) for a in args]
    log("$ " + " ".join(os.path.relpath(c, REPO) if c == binary else c for c in cmd))
    t0 = time.perf_counter()
    if log_file:
        with open(log_file, "w") as sink:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=sink, text=True)
    else:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        tail = p.stdout.strip().splitlines()[-5:]
        if log_file:
            with open(log_file) as f:
                tail += f.read().strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd)} exited with status {p.returncode}: " + " | ".join(tail))
    return p.stdout, seconds


def run_worker(script, args, threads, extra_env=None):
    """Runs `python SCRIPT --worker ... --threads N` in a fresh process with the thread count fixed
    before any library starts its thread pool; returns (the JSON object it prints last, wall seconds)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), **(extra_env or {}))
    cmd = [sys.executable, os.path.join(BENCH_DIR, script), "--worker", "--threads", str(threads)] + [str(a) for a in args]
    log("$ " + " ".join(os.path.relpath(c, REPO) if os.path.isabs(c) else c for c in cmd[1:]))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - t0
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"{os.path.basename(script)} worker exited with status {p.returncode}")
    return json.loads(lines[-1]), seconds


def emit(obj):
    """A worker's result: one JSON line on stdout (its logs go to stderr)."""
    print(json.dumps(obj), flush=True)


def thread_pools():
    """The native thread pools this process has loaded (OpenMP, MKL, OpenBLAS...) and their sizes,
    from threadpoolctl: which libraries really ran a worker's measurement, on how many threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: p.get(k) for k in ("internal_api", "prefix", "version", "num_threads", "threading_layer")}
            for p in threadpool_info()]


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def summary(values, higher_is_better=True):
    """Best, median and range of repeated measurements; None when nothing was measured."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(best=max(values) if higher_is_better else min(values), median=statistics.median(values),
                min=min(values), max=max(values), n=len(values))


def fmt(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def fmt_range(s, digits=0):
    """'median (min-max)' of a summary, or the single value."""
    if s is None:
        return "failed"
    if s["n"] == 1:
        return fmt(s["median"], digits)
    return f"{fmt(s['median'], digits)} ({fmt(s['min'], digits)}-{fmt(s['max'], digits)})"


def fmt_ratio(s):
    """A summary of ratios: '2.71x', or 'median (min-max)' over rounds."""
    if s is None:
        return "-"
    if s["n"] == 1:
        return f"{s['median']:.2f}x"
    return f"{s['median']:.2f}x ({s['min']:.2f}-{s['max']:.2f})"


def print_table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    sys.stdout.flush()


def write_json(path, obj):
    """Written to a temporary name and renamed: an interrupted run leaves the previous complete file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    obj = dict(obj)
    obj["environment"] = dict(obj.get("environment", {}), loadavg_1m_at_end=round(os.getloadavg()[0], 2))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def fresh_dir(path):
    """An empty directory at `path`, which must lie inside benchmarks/results/work."""
    work = os.path.realpath(WORK)
    real = os.path.realpath(path)
    if not real.startswith(work + os.sep):
        die(f"refusing to empty {path}: not inside {WORK}")
    shutil.rmtree(real, ignore_errors=True)
    os.makedirs(real)
    return real


def parse_number(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        raise RuntimeError(f"could not find {what} in seq2seq's output:\n{text.strip()}")
    return m


# ---- seq2seq's random numbers, for inputs both sides must share ----

M64 = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class SwiftRNG:
    """seq2seq's generator (Sources/Seq2SeqKit/Tensor/RNG.swift): xoshiro256** seeded through SplitMix64."""

    def __init__(self, seed):
        z, self.s = seed, []
        for _ in range(4):
            z = (z + 0x9E3779B97F4A7C15) & M64
            x = z
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(x ^ (x >> 31))

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (rotl((s1 * 5) & M64, 7) * 9) & M64
        t = (s1 << 17) & M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self, lo, hi):
        return lo + self.next() % (hi - lo + 1)
