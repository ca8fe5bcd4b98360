#!/usr/bin/env bash
# Soak: the published server under a steady load for a bounded time, sampling its RSS, threads, open fds and
# sockets every INTERVAL seconds, with a Service created and one deleted through the API each interval (watch
# churn), and ClusterDns.LoadCheck checking a slice of the answers. Prints the samples and a verdict: flat or growing.
#
#   bench/reliability/soak.sh [MINUTES]                  (default 30)
#   RATE=10000 CHECK_RATE=500 INTERVAL=30 bench/reliability/soak.sh 3
#
# RATE is dnsperf's QPS (default 10000, about half of what the server answers here with dnsperf on the same two
# shared cores); CHECK_RATE the checker's. Not a CI test: run it by hand.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

MINUTES=${1:-30}
RATE=${RATE:-10000}
CHECK_RATE=${CHECK_RATE:-500}
INTERVAL=${INTERVAL:-30}
SECONDS_TOTAL=$((MINUTES * 60))
SAMPLES="$WORK/soak-samples.txt"

trap stop_all EXIT
require_tools
build
write_expectations
start_stack

dotnet "$LOADCHECK" udp --server "127.0.0.1:$DNS_PORT" --rate "$CHECK_RATE" --seconds "$SECONDS_TOTAL" --timeout-ms 2000 \
    --window-ms 60000 --expect-file "$WORK/expect.txt" >"$WORK/soak.check" 2>&1 &
CHECKER=$!
track "$CHECKER"
dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$WORK/dnsperf.txt" -Q "$RATE" -l "$SECONDS_TOTAL" -c 4 -q 200 -t 2 >"$WORK/soak.dnsperf" 2>&1 &
track $!

sample() { # elapsed-seconds rss-KiB threads fds sockets
    local status fds sockets
    status=$(cat "/proc/$SERVER_PID/status")
    fds=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
    sockets=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' | wc -l)
    printf '%6d %8d %7d %5d %7d\n' "$1" "$(awk '/^VmRSS/ { print $2 }' <<<"$status")" \
        "$(awk '/^Threads/ { print $2 }' <<<"$status")" "$fds" "$sockets"
}

churn() { # one Service in, the previous one out: the informers' watch path keeps working under load
    local n=$1 body
    body=$(printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"soak-%d"},"spec":{"ports":[{"port":80}]}}' "$n")
    curl -sf -X POST -H 'Content-Type: application/json' -d "$body" \
        "http://127.0.0.1:$API_PORT/api/v1/namespaces/default/services" >/dev/null || log "churn: create soak-$n failed"
    ((n > 1)) && { curl -sf -X DELETE "http://127.0.0.1:$API_PORT/api/v1/namespaces/default/services/soak-$((n - 1))" >/dev/null || log "churn: delete failed"; }
    return 0
}

printf '%6s %8s %7s %5s %7s\n' elapsed rss_kib threads fds sockets | tee "$SAMPLES"
start=$(date +%s)
n=0
while :; do
    elapsed=$(($(date +%s) - start))
    sample "$elapsed" | tee -a "$SAMPLES"
    ((elapsed + INTERVAL <= SECONDS_TOTAL)) || break
    n=$((n + 1))
    churn "$n"
    sleep "$INTERVAL"
done
wait "$CHECKER" || true

# The first sample is the idle server before the load. A warm-up (tiered JIT, pools, GC heap sizing) grows and
# levels off; a leak keeps growing: the verdict is the trend (least-squares slope) over the last third of the loaded
# samples, per hour.
verdict=$(awk -v interval="$INTERVAL" 'NR > 2 { rss[++k] = $2; thr[k] = $3; fd[k] = $4 }
    function slope(v, from, to,    i, n, sx, sy, sxx, sxy, x) {
        for (i = from; i <= to; i++) { x = (i - from) * interval / 3600; n++; sx += x; sy += v[i]; sxx += x * x; sxy += x * v[i] }
        return (n * sxx - sx * sx) == 0 ? 0 : (n * sxy - sx * sy) / (n * sxx - sx * sx)
    }
    END {
        if (k < 9) { print "too few samples for a verdict (run at least 10 intervals)"; exit }
        from = k - int(k / 3) + 1
        r = slope(rss, from, k) / 1024; h = slope(thr, from, k); f = slope(fd, from, k)
        growing = r > 10 || h > 10 || f > 20
        printf "%s: over the last third (%d samples), RSS %+.1f MiB/h, threads %+.1f/h, fds %+.1f/h (GROWING above 10 MiB/h, 10 threads/h, 20 fds/h); RSS %.0f KiB at the first loaded sample, %.0f at the last\n",
            growing ? "GROWING" : "FLAT", k - from + 1, r, h, f, rss[1], rss[k] }' "$SAMPLES")
echo "verdict $verdict"
grep -E '^(summary|wrong:)' "$WORK/soak.check" || true
grep -E 'Queries (sent|completed|lost)|Queries per second' "$WORK/soak.dnsperf" || true
