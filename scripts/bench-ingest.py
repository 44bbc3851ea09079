#!/usr/bin/env python3
"""Load for POST /telemetry: distinct native samples from several clients at once, then
the same bodies again (every sample a duplicate). Prints samples/s and request latency
percentiles for each pass. Standard library only.

    scripts/bench-ingest.py http://127.0.0.1:8001 "$STREAM_PROCESSOR_API_KEY" \
        [--requests 200] [--samples 1000] [--clients 4] [--seq]

`make bench` runs it against a processor it starts (see docs/performance.md).
"""

import argparse
import json
import os
import statistics
import threading
import time
import urllib.request


def bodies(args, session):
    """Live-timing shaped samples (speed, RPM, gear, pedals, DRS, position, lap), each
    request the next `--samples` of 20 cars at 4 Hz, so no two samples repeat."""
    t0 = 1_725_800_000_000
    per_car = args.samples // 20
    out = []
    for r in range(args.requests):
        samples = []
        for car in range(1, 21):
            for i in range(per_car):
                n = r * per_car + i
                s = {
                    "session": session, "car": car, "timestamp_ms": t0 + n * 250,
                    "speed_kph": 200.0 + (n % 100), "rpm": 11000, "gear": 7,
                    "throttle": 1.0, "brake": 0.0, "drs": False, "lap": 1 + n // 360,
                    "x": 100.0 + n, "y": -50.0, "z": 3.0, "driver": "D%02d" % car,
                }
                if args.seq:
                    s["seq"] = n
                samples.append(s)
        out.append(json.dumps(samples).encode())
    return out


def run(url, key, payloads, clients):
    """Posts every payload once from `clients` threads; (seconds, latencies, answers)."""
    queue = list(reversed(payloads))  # popped from the end: sent in order
    lock = threading.Lock()
    latencies, answers = [], []

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            req = urllib.request.Request(
                url + "/telemetry", data=body, method="POST",
                headers={"X-API-Key": key, "Content-Type": "application/json"})
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as resp:
                answer = json.loads(resp.read())
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                answers.append(answer)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - start, latencies, answers


def report(name, seconds, latencies, answers, samples):
    lat = sorted(latencies)
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    accepted = sum(a.get("accepted", 0) for a in answers)
    dups = sum(a.get("duplicates", 0) for a in answers)
    print(f"{name}: {samples / seconds:,.0f} samples/s over {seconds:.2f} s; "
          f"request p50 {pct(0.5):.1f} ms p99 {pct(0.99):.1f} ms "
          f"(median {statistics.median(lat) * 1000:.1f} ms); accepted {accepted}, duplicates {dups}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("key")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seq", action="store_true", help="number the samples (client seq)")
    args = p.parse_args()
    session = "bench-ingest-%d-%d" % (os.getpid(), int(time.time()))
    payloads = bodies(args, session)
    total = args.requests * (args.samples // 20) * 20
    mode = "seq" if args.seq else "time"
    report(f"new samples ({mode})", *run(args.url, args.key, payloads, args.clients), total)
    report(f"resent ({mode})", *run(args.url, args.key, payloads, args.clients), total)


if __name__ == "__main__":
    main()
