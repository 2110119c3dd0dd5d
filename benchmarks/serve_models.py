"""`seq2seq serve` under load with one model and with two models (two pairs), side by side: the
server's resident memory once loaded and after the load, and sentences/s answered to concurrent
clients posting single sentences of Multi30k test2016 (each client waits for its answer before
sending the next, as an interactive client does). With two models the clients are split evenly
between the pairs. Only the standard library: the load comes from threads with urllib.

    benchmarks/serve_models.sh --model runs/m30k [--second-model runs/other] [--clients 16] [--seconds 30]

Without --second-model the same directory is served twice (two copies in memory, two workers),
which measures the cost of a second model of that size.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(binary, models, threads, log_path):
    port = free_port()
    args = [binary, "serve", "--port", str(port)]
    for m in models:
        args += ["--model", m]
    if threads:
        args += ["--threads", str(threads)]
    log = open(log_path, "w")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if p.poll() is not None:
            common.die(f"seq2seq serve exited:\n{open(log_path).read()}")
        if "serving" in open(log_path).read():
            return p, port
        time.sleep(0.1)
    p.kill()
    common.die(f"seq2seq serve did not start listening:\n{open(log_path).read()}")


def load(port, pairs, lines, clients, seconds):
    """`clients` threads post sentences for `seconds`; client i uses pairs[i % len(pairs)]."""
    done = [0] * clients
    errors = []
    stop = time.time() + seconds

    def client(i):
        source, target = pairs[i % len(pairs)]
        k = i
        while time.time() < stop:
            body = {"q": lines[k % len(lines)]}
            if source:
                body.update(source=source, target=target)
            req = urllib.request.Request(f"http://127.0.0.1:{port}/translate", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    json.load(r)
                done[i] += 1
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(str(e))
                return
            k += clients

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    if errors:
        common.die(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return sum(done) / elapsed, sum(done)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a translation model directory (German to English for the test sentences)")
    ap.add_argument("--second-model", help="the second model (default: --model again, as a second pair)")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    ap.add_argument("--seconds", type=float, default=30, help="load duration per measurement (default 30)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds, alternating the order (default 2)")
    ap.add_argument("--threads", type=int, default=None, help="serve --threads (default: the server's, all cores)")
    ap.add_argument("--output", default=os.path.join(common.RESULTS, "serve.json"))
    args = ap.parse_args()
    binary = common.seq2seq_binary()
    (test_de,) = common.corpus_files("multi30k/test2016.de")
    lines = common.read_lines(test_de)
    env = common.environment(binary, [])
    common.print_environment(env)
    second = args.second_model or args.model
    setups = {
        "one model": ([args.model], [(None, None)]),
        "two models": ([f"de-en={args.model}", f"xx-en={second}"], [("de", "en"), ("xx", "en")]),
    }
    os.makedirs(common.WORK, exist_ok=True)
    results = {name: dict(rate=[], loaded_mb=[], after_mb=[]) for name in setups}
    for rnd, _, name in common.schedule(args.rounds, [args.threads or os.cpu_count()], list(setups)):
        models, pairs = setups[name]
        p, port = start_server(binary, models, args.threads, os.path.join(common.WORK, "serve.log"))
        try:
            time.sleep(1)
            loaded = rss_mb(p.pid)
            load(port, pairs, lines, args.clients, 3)  # warm-up
            rate, n = load(port, pairs, lines, args.clients, args.seconds)
            after = rss_mb(p.pid)
        finally:
            p.terminate()
            p.wait()
        print(f"  {rate:.1f} sentences/s ({n} in {args.seconds:.0f} s); resident {loaded:.0f} MB loaded, {after:.0f} MB after", flush=True)
        results[name]["rate"].append(rate)
        results[name]["loaded_mb"].append(loaded)
        results[name]["after_mb"].append(after)
    rows = []
    for name in setups:
        r = results[name]
        rows.append([name, common.fmt_range(common.summary(r["rate"]), 1), common.fmt_range(common.summary(r["loaded_mb"])),
                     common.fmt_range(common.summary(r["after_mb"]))])
    common.print_table(["server", "sentences/s", "resident MB loaded", "resident MB after load"], rows)
    common.write_json(args.output, dict(environment=env, clients=args.clients, seconds=args.seconds,
                                        model=args.model, second_model=second, results=results))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
