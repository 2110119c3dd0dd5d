#!/usr/bin/env python3
"""Load generator for `seq2seq serve` (development script; loopback only, standard library only).

N concurrent clients, each with one keep-alive connection, send one sentence per POST /translate
until every line of --input has been sent once (or --max-seconds pass). Prints sentences/s, p50/p99
latency and, with --expect (offline `seq2seq translate` output of the same file), how many answers
differ from it.

    python3 scripts/serve-load.py --port 8080 --input test2016.de --clients 64 --expect offline.en
"""
import argparse, http.client, json, sys, threading, time

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--input", required=True, help="one sentence per line")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="send only the first N lines (0: all)")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--expect", help="offline translations of --input, line by line")
    a = ap.parse_args()
    lines = open(a.input, encoding="utf-8").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if a.limit:
        lines = lines[: a.limit]
    answers = [None] * len(lines)
    latencies = [None] * len(lines)
    errors = []
    next_index = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + a.max_seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
        while time.monotonic() < deadline:
            with lock:
                i = next_index[0]
                if i >= len(lines):
                    break
                next_index[0] += 1
            body = json.dumps({"q": lines[i]})
            start = time.monotonic()
            try:
                conn.request("POST", "/translate", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except Exception as e:  # a dropped connection: count it, reconnect
                errors.append(f"line {i + 1}: {e}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
                continue
            latencies[i] = time.monotonic() - start
            if r.status != 200:
                errors.append(f"line {i + 1}: HTTP {r.status} {data[:200]!r}")
            else:
                answers[i] = json.loads(data)["translatedText"]
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    done = sorted(x for x in latencies if x is not None)
    n = sum(1 for x in answers if x is not None)

    def pct(p):
        return done[min(len(done) - 1, int(p / 100 * len(done)))] * 1000 if done else float("nan")

    print(f"clients {a.clients}: {n} sentences in {elapsed:.2f} s = {n / elapsed:.1f} sentences/s; "
          f"latency p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms; {len(errors)} errors")
    for e in errors[:5]:
        print("  " + e, file=sys.stderr)
    if a.expect:
        expected = open(a.expect, encoding="utf-8").read().split("\n")
        diff = [i for i, x in enumerate(answers) if x is not None and x != expected[i]]
        print(f"answers differing from {a.expect}: {len(diff)} of {n}" + (f" (first: line {diff[0] + 1})" if diff else ""))
    return 1 if errors else 0

if __name__ == "__main__":
    sys.exit(main())
