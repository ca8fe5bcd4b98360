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

# The first sample is the idle server before the load; compare the first and last third of the rest.
verdict=$(awk 'NR > 2 { rss[++k] = $2; thr[k] = $3; fd[k] = $4 }
    END {
        if (k < 3) { print "too few samples for a verdict (run longer than 3 intervals)"; exit }
        t = int(k / 3); if (t < 1) t = 1
        for (i = 1; i <= t; i++) { r1 += rss[i]; h1 += thr[i]; f1 += fd[i] }
        for (i = k - t + 1; i <= k; i++) { r2 += rss[i]; h2 += thr[i]; f2 += fd[i] }
        r1 /= t; r2 /= t; h1 /= t; h2 /= t; f1 /= t; f2 /= t
        growing = (r2 > r1 * 1.2 + 5120) || (h2 > h1 + 10) || (f2 > f1 + 20)
        printf "%s: RSS %.0f -> %.0f KiB, threads %.1f -> %.1f, fds %.1f -> %.1f (first vs last third of the loaded samples)\n",
            growing ? "GROWING" : "FLAT", r1, r2, h1, h2, f1, f2 }' "$SAMPLES")
echo "verdict $verdict"
grep -E '^(summary|wrong:)' "$WORK/soak.check" || true
grep -E 'Queries (sent|completed|lost)|Queries per second' "$WORK/soak.dnsperf" || true
