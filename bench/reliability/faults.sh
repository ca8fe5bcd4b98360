#!/usr/bin/env bash
# Reliability under faults (issue 6): the published server, the KubeEmulator and a dnsmasq upstream on loopback,
# dnsperf as background load, and ClusterDns.LoadCheck checking every answer. Each scenario starts a fresh stack,
# injects one fault and prints, for the queries sent during the fault and after it: sent, correct %, wrong, lost.
#
#   bench/reliability/faults.sh [a b c d e]      (default: all)
#   RATE=3000 DNSPERF_QPS=1000 SWAPS=100 PORT_BASE=24000 WORK=/tmp/clusterdns-reliability bench/reliability/faults.sh
#
# a  5,000 idle TCP connections + 300 half-sent frames while UDP answers are checked; a new TCP client is served
# b  the API emulator killed (SIGKILL) and restarted on the same port; a Service created after it shows up
# c  the upstream killed and restarted: cached names answer, uncached get SERVFAIL quickly, then resume
# d  the Corefile changed SWAPS times through the ConfigMap ..data symlink (a hosts entry flips between two addresses)
# e  SIGTERM with lameduck 5s: no query sent before the lameduck ends may be lost
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

RATE=${RATE:-3000}
DNSPERF_QPS=${DNSPERF_QPS:-1000}
SWAPS=${SWAPS:-100}
SCENARIOS=("$@")
((${#SCENARIOS[@]})) || SCENARIOS=(a b c d e)
RESULTS="$WORK/results.txt"

trap stop_all EXIT

untrack() {
    local pid=$1 kept=() p
    for p in "${STARTED_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    STARTED_PIDS=("${kept[@]}")
}

mark() { echo "$1 ${2:-$(now_ms)}" >>"$MARKS"; }

# Starts the checker (and dnsperf) in the background for up to SECONDS; stops early when $STOP appears.
CHECKER_PID=
start_load() {
    local name=$1 seconds=$2 expect=$3 rate=${4:-$RATE}
    MARKS="$WORK/$name.marks"; STOP="$WORK/$name.stop"; CHECKER_OUT="$WORK/$name.check"
    rm -f "$MARKS" "$STOP"
    dotnet "$LOADCHECK" udp --server "127.0.0.1:$DNS_PORT" --rate "$rate" --seconds "$seconds" --timeout-ms 2000 \
        --expect-file "$expect" --marks "$MARKS" --until-file "$STOP" >"$CHECKER_OUT" 2>&1 &
    CHECKER_PID=$!
    track "$CHECKER_PID"
    dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$WORK/dnsperf.txt" -Q "$DNSPERF_QPS" -l "$seconds" -c 2 -t 2 \
        >"$WORK/$name.dnsperf" 2>&1 &
    DNSPERF_PID=$!
    track "$DNSPERF_PID"
    sleep 3 # the checker's JIT warm-up and a clean "before" phase
}

finish_load() {
    touch "$STOP"
    wait "$CHECKER_PID" || true
    kill -INT "$DNSPERF_PID" 2>/dev/null || true # dnsperf prints its statistics on SIGINT
    wait "$DNSPERF_PID" 2>/dev/null || true
    untrack "$CHECKER_PID"; untrack "$DNSPERF_PID"
}

phase() { # phase NAME LABEL -> "sent correct% wrong late lost"
    awk -v l="phase=$2" '$1 == l { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s %s %s %s %s", v["sent"], v["correct%"], v["wrong"], v["late"], v["lost"] }' "$WORK/$1.check"
}

dnsperf_lost() { awk '/Queries lost:/ { print $3 "" $4 }' "$WORK/$1.dnsperf"; }

record() { # record NAME SCENARIO-TITLE NOTES
    local during after
    during=$(phase "$1" fault); after=$(phase "$1" after)
    printf '%-34s | %-36s | %-36s | %s\n' "$2" "${during:--}" "${after:--}" "$3 dnsperf lost $(dnsperf_lost "$1")" | tee -a "$RESULTS"
    grep '^wrong:' "$WORK/$1.check" | head -5 >&2 || true
}

scenario_a() {
    start_stack
    start_load a 60 "$WORK/expect.txt"
    mark fault
    dotnet "$LOADCHECK" tcp-hold --server "127.0.0.1:$DNS_PORT" --connections 5000 --half-frames 300 --seconds 15 \
        >"$WORK/a.tcp" 2>&1 &
    local holder=$! served=0 i established
    track "$holder"
    sleep 8
    established=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' | wc -l)
    for i in $(seq 5); do
        [[ $(dig +tcp +time=2 +tries=1 +short @127.0.0.1 -p "$DNS_PORT" nginx-service.default.svc.cluster.local) == 10.96.100.10 ]] && served=$((served + 1))
    done
    wait "$holder" || true
    untrack "$holder"
    mark after
    sleep 5
    finish_load
    local opened closed
    opened=$(awk '/tcp-hold summary/ { print $3 }' "$WORK/a.tcp")
    closed=$(awk '/tcp-hold summary/ { print $5 }' "$WORK/a.tcp")
    record a "a 5000 idle TCP + 300 half frames" "tcp ${opened} ${closed}; server socket fds at 8s: $established; new TCP client served $served/5;"
    stop_all
}

scenario_b() {
    start_stack
    start_load b 60 "$WORK/expect.txt"
    mark fault
    kill -9 "$EMULATOR_PID"; wait "$EMULATOR_PID" 2>/dev/null || true; untrack "$EMULATOR_PID"
    sleep 10
    start_emulator
    mark after
    local t0 ms=timeout i
    t0=$(now_ms)
    curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$API_PORT/api/v1/namespaces/default/services" \
        -d '{"apiVersion":"v1","kind":"Service","metadata":{"name":"late"},"spec":{"clusterIP":"10.96.123.45","ports":[{"port":80}]}}' >/dev/null
    for i in $(seq 300); do
        if [[ $(dig +short +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" late.default.svc.cluster.local) == 10.96.123.45 ]]; then
            ms=$(($(now_ms) - t0)); break
        fi
        sleep 0.1
    done
    sleep 5
    finish_load
    record b "b API emulator killed 10s" "Service created after restart answers after ${ms} ms;"
    stop_all
}

probe_uncached() { # prints "STATUS/MS" for a name never asked before
    local name="u$RANDOM$RANDOM.any.up.test" t0 status
    t0=$(now_ms)
    status=$(dig +time=5 +tries=1 @127.0.0.1 -p "$DNS_PORT" "$name" | grep -o 'status: [A-Z]*' | cut -d' ' -f2)
    echo "${status:-TIMEOUT}/$(($(now_ms) - t0))ms"
}

scenario_c() {
    start_stack
    start_load c 60 "$WORK/expect.txt"
    mark fault
    kill -9 "$UPSTREAM_PID"; wait "$UPSTREAM_PID" 2>/dev/null || true; untrack "$UPSTREAM_PID"
    local during=() after=() i
    sleep 1
    for i in 1 2 3; do during+=("$(probe_uncached)"); sleep 1; done
    sleep 5
    start_upstream
    mark after
    sleep 2
    for i in 1 2 3; do after+=("$(probe_uncached)"); done
    sleep 3
    finish_load
    record c "c upstream killed 10s" "uncached during: ${during[*]}; after: ${after[*]};"
    stop_all
}

scenario_d() {
    start_stack
    sed 's/^flip.test A .*/flip.test A 10.1.0.1|10.1.0.2/' "$WORK/expect.txt" >"$WORK/expect-d.txt"
    start_load d $((SWAPS * 6 + 30)) "$WORK/expect-d.txt" 2000
    mark fault
    local swap value t0 applied=0 total_ms=0 max_ms=0 hashes_ok=0 i ms hash
    for swap in $(seq "$SWAPS"); do
        value=10.1.0.$(((swap % 2) + 1))
        configmap_write "$value"
        t0=$(now_ms); ms=
        for i in $(seq 100); do
            if [[ $(dig +short +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" flip.test) == "$value" ]]; then
                ms=$(($(now_ms) - t0)); break
            fi
            sleep 0.1
        done
        [[ -n $ms ]] || { log "swap $swap: $value not served after 10s"; continue; }
        applied=$((applied + 1)); total_ms=$((total_ms + ms)); ((ms > max_ms)) && max_ms=$ms
        hash=$(sha512sum "$CONFIGMAP/Corefile" | cut -d' ' -f1)
        for i in $(seq 10); do # the metric follows the swap a moment after the answers do
            if curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -q "coredns_reload_version_info{hash=\"sha512\",value=\"$hash\"} 1"; then
                hashes_ok=$((hashes_ok + 1)); break
            fi
            sleep 0.1
        done
    done
    mark after
    sleep 10
    finish_load
    record d "d Corefile swapped $SWAPS times" "applied $applied/$SWAPS (mean $((total_ms / (applied > 0 ? applied : 1))) ms, max $max_ms ms); reload_version_info hash = file $hashes_ok/$SWAPS; reload_failed_total $(metric coredns_reload_failed_total);"
    stop_all
}

scenario_e() {
    start_stack
    start_load e 15 "$WORK/expect.txt"
    local t0 code=0
    t0=$(now_ms)
    mark fault "$t0"
    mark after $((t0 + 5000))
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || code=$?
    untrack "$SERVER_PID"
    local exited_ms=$(($(now_ms) - t0))
    sleep 3
    finish_load
    record e "e SIGTERM, lameduck 5s" "exit code $code after $exited_ms ms (after = server gone, loss expected);"
    stop_all
}

require_tools
build
write_expectations
: >"$RESULTS"
printf '%-34s | %-36s | %-36s | %s\n' "scenario" "fault: sent correct% wrong late lost" "after: sent correct% wrong late lost" "notes" | tee -a "$RESULTS"
for s in "${SCENARIOS[@]}"; do
    log "scenario $s"
    "scenario_$s"
done
log "results in $RESULTS; checker output in $WORK/*.check"
