#!/usr/bin/env python3
"""Builds side by side: one mock provider and one gateway per build (same store kind, a
database each), driven in turns by `tollgate-bench --probe`, round after round, in an order
that alternates, so that a slow spell of a shared machine falls on every build alike.

  scripts/ab.py STORE ROUNDS SECONDS CONNECTIONS DIR[:limits] ...

STORE is sqlite or postgres (TOLLGATE_BENCH_POSTGRES_URL's server, default local trust auth);
each DIR holds a release build's `tollgate` (`:limits` gives that build's key the benchmark's
limits: a monthly budget and requests and tokens per minute; the key otherwise has none). The
mock and the probe are the first DIR's. Prints each round, then per build the median and mean
req/s and p50, its share of the direct path, and the CPU time the gateway (and Postgres) used
per 1,000 requests. Example, the build before the limits against the current one:
  scripts/ab.py postgres 8 5 32 /tmp/before /tmp/now:limits
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ADMIN = "ab-admin"
LIMITS = {"period_limit_usd": 1_000_000, "period": "month",
          "rate_limits": {"requests_per_minute": 1_000_000_000, "tokens_per_minute": 1_000_000_000_000}}
PG = os.environ.get("TOLLGATE_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port():
    return random.randint(20000, 40000)


def cpu_ms(pids):
    """User and system time of `pids`, in ms (clock ticks of 10 ms)."""
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total * 10


def postgres_pids():
    pids = []
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{d}/comm").read().strip() == "postgres":
                pids.append(int(d))
        except OSError:
            pass
    return pids


def wait_up(port, path):
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            if c.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"nothing answers on port {port}")


def admin(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, json.dumps(body), {"authorization": "Bearer " + ADMIN, "content-type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"{path}: {r.status} {data!r}")
    return json.loads(data)


def psql(sql):
    subprocess.run(["psql", PG, "-qc", sql], check=True, capture_output=True)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    store, rounds, seconds, conns = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    builds = sys.argv[5:]
    first = builds[0].split(":")[0]
    procs, databases, works = [], [], []
    try:
        mock_port = free_port()
        procs.append(subprocess.Popen([f"{first}/tollgate", "mock-provider", "--listen", f"127.0.0.1:{mock_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_up(mock_port, "/stats")
        targets = [("direct", f"http://127.0.0.1:{mock_port}/v1/chat/completions", "-", procs[0].pid)]
        for i, spec in enumerate(builds):
            directory, _, limits = spec.partition(":")
            port, work = free_port(), tempfile.mkdtemp(prefix="tollgate-ab-")
            works.append(work)
            if store == "postgres":
                name = f"tollgate_ab_{os.getpid()}_{i}"
                psql(f"CREATE DATABASE {name}")
                databases.append(name)
                url = PG.rsplit("/", 1)[0] + f"/{name}?sslmode=disable"
            else:
                url = f"sqlite://{work}/gateway.db"
            env = dict(os.environ, TOLLGATE_DATABASE_URL=url, TOLLGATE_LISTEN=f"127.0.0.1:{port}",
                       TOLLGATE_ADMIN_TOKEN=ADMIN, TOLLGATE_SECRET_KEY="A" * 43 + "=",
                       TOLLGATE_PROVIDER_OPENAI_API_KEY="ab-upstream-key",
                       TOLLGATE_PROVIDER_OPENAI_BASE_URL=f"http://127.0.0.1:{mock_port}/v1",
                       RUST_LOG="warn", TOLLGATE_SPOOL_DIR=f"{work}/spool")
            procs.append(subprocess.Popen([f"{directory}/tollgate", "serve"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_up(port, "/readyz")
            org = admin(port, "/api/organizations", {"name": "ab"})["id"]
            admin(port, f"/api/organizations/{org}/credits", {"amount_usd": 1_000_000, "reference": "ab"})
            project = admin(port, "/api/projects", {"organization_id": org, "name": "ab", "mode": "credits"})["id"]
            token = admin(port, f"/api/projects/{project}/keys", LIMITS if limits else {})["token"]
            targets.append((spec, f"http://127.0.0.1:{port}/v1/chat/completions", token, procs[-1].pid))

        def probe(url, token, secs):
            out = subprocess.run([f"{first}/tollgate-bench", "--probe", url, "--token", token,
                                  "--connections", str(conns), "--duration-ms", str(int(secs * 1000))],
                                 capture_output=True, text=True).stdout
            m = re.search(r"([\d.]+) req/s, p50 (\d+) µs", out)
            return (float(m.group(1)), int(m.group(2))) if m else (0.0, 0)

        for _, url, token, _ in targets:
            probe(url, token, 2)  # warm up: pools, caches, statements
        results = {t[0]: [] for t in targets}
        for r in range(rounds):
            order = targets if r % 2 == 0 else targets[:1] + targets[:0:-1]
            for name, url, token, pid in order:
                own, pg = cpu_ms([pid]), cpu_ms(postgres_pids())
                rps, p50 = probe(url, token, seconds)
                time.sleep(1)  # its usage written and projected before the next one
                n = max(1.0, rps * seconds)
                results[name].append((rps, p50, (cpu_ms([pid]) - own) * 1000 / n,
                                      (cpu_ms(postgres_pids()) - pg) * 1000 / n))
            print(f"round {r + 1}: " + "  ".join(f"{n} {v[-1][0]:.0f} req/s p50 {v[-1][1]}" for n, v in results.items()),
                  flush=True)
        direct = sum(x[0] for x in results["direct"]) / rounds
        print("build: median req/s, median p50 µs | mean req/s, mean p50 µs | share of direct | CPU ms per 1,000 requests (own, postgres)")
        for name, v in results.items():
            med = lambda i: sorted(x[i] for x in v)[len(v) // 2]
            mean = lambda i: sum(x[i] for x in v) / len(v)
            print(f"{name}: {med(0):.0f}, {med(1)} | {mean(0):.0f}, {mean(1):.1f} | {mean(0) / direct:.3f} | {mean(2):.1f}, {mean(3):.1f}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for name in databases:
            psql(f"DROP DATABASE IF EXISTS {name}")
        for work in works:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
