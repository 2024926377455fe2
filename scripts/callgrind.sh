#!/usr/bin/env bash
# Instructions the gateway executes per proxied request, counted by valgrind's callgrind:
# repeatable on a noisy machine, unlike timings. Starts the mock provider and the gateway (on
# SQLite) under callgrind with instrumentation off, sets up a tenant, turns instrumentation on
# for N requests at one connection, and prints instructions per request and the top functions.
#   usage: scripts/callgrind.sh [requests] [connections] [stream]
#   (needs: cargo build --release --bins). More connections: larger usage batches, as under load.
#   DATABASE_URL=postgres://... runs it on an empty Postgres database instead.
#   KEY_LIMITS=1 gives the key a monthly budget and requests and tokens per minute, none of
#   them near, as the benchmark's key has; KEY_LIMITS=every adds a lifetime limit.
set -euo pipefail
N=${1:-500}
CONNS=${2:-1}
STREAM=${3:-}
BIN=${TOLLGATE_BIN:-target/release/tollgate}
WORK=$(mktemp -d)
MOCK_PORT=$((20000 + RANDOM % 10000))
GW_PORT=$((MOCK_PORT + 1))
ADMIN=callgrind-admin
cleanup() { kill "${MOCK_PID:-}" "${GW_PID:-}" 2>/dev/null || true; }
trap cleanup EXIT

"$BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" >/dev/null &
MOCK_PID=$!
TOLLGATE_DATABASE_URL="${DATABASE_URL:-sqlite://$WORK/gw.db}" TOLLGATE_LISTEN="127.0.0.1:$GW_PORT" \
  TOLLGATE_ADMIN_TOKEN=$ADMIN TOLLGATE_SECRET_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
  TOLLGATE_PROVIDER_OPENAI_API_KEY=upstream-key \
  TOLLGATE_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" RUST_LOG=${RUST_LOG:-info} \
  TOLLGATE_SPOOL_DIR="$WORK/spool" \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
  "$BIN" serve >"$WORK/gateway.log" 2>"$WORK/valgrind.log" &
GW_PID=$!

python3 - "$GW_PORT" "$ADMIN" "$N" "$STREAM" "$GW_PID" "$CONNS" <<'EOF'
import http.client, json, subprocess, sys, threading, time
port, admin, n, stream, pid, conns = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60); c.request("GET", "/readyz")
        if c.getresponse().status == 200: break
    except OSError: pass
    time.sleep(0.1)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def call(method, path, body, token):
    c.request(method, path, json.dumps(body), {"authorization": "Bearer " + token, "content-type": "application/json"})
    r = c.getresponse(); data = r.read()
    assert r.status < 300, (path, r.status, data)
    return json.loads(data) if data and r.getheader("content-type", "").startswith("application/json") else data
org = call("POST", "/api/organizations", {"name": "cg"}, admin)["id"]
call("POST", f"/api/organizations/{org}/credits", {"amount_usd": 1000, "reference": "cg"}, admin)
project = call("POST", "/api/projects", {"organization_id": org, "name": "cg", "mode": "credits"}, admin)["id"]
import os
limits = {"period_limit_usd": 1000000, "period": "month",
          "rate_limits": {"requests_per_minute": 1000000000, "tokens_per_minute": 1000000000000}}
if os.environ.get("KEY_LIMITS") == "every": limits["usage_limit_usd"] = 1000000
token = call("POST", f"/api/projects/{project}/keys", limits if os.environ.get("KEY_LIMITS") else {}, admin)["token"]
body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark."}], "max_tokens": 64}
if stream: body["stream"] = True
for _ in range(300): call("POST", "/v1/chat/completions", body, token)   # warm up: pools, statement caches
def drive(count):
    own = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        own.request("POST", "/v1/chat/completions", json.dumps(body), {"authorization": "Bearer " + token, "content-type": "application/json"})
        r = own.getresponse(); r.read()
        assert r.status == 200, r.status
subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
threads = [threading.Thread(target=drive, args=(n // conns,)) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
time.sleep(0.5)   # one usage flush inside the window, as under load
subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
EOF
sleep 1
OUT=$(ls -t "$WORK"/callgrind.out* | head -1)
TOTAL=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
TOTAL=${TOTAL:-0}
N=$(( (N / CONNS) * CONNS ))
echo "instructions per request: $((TOTAL / N)) (total $TOTAL over $N requests, $CONNS connections${STREAM:+, streamed})"
callgrind_annotate --inclusive=no "$OUT" 2>/dev/null | sed -n '/^Ir/,$p' | head -40
echo "(profile kept in $OUT)"
