#!/usr/bin/env bash
# bench/run.sh: the one command that measures ClusterDns against knotd, unbound and dnsmasq with dnsperf,
# and the kubernetes plugin's sync time, memory and change-to-answer latency. See bench/README.md.
#
#   bench/run.sh                      full run (BENCH_RUNS=3 x BENCH_SECONDS=10 per server, scenario and placement)
#   BENCH_QUICK=1 bench/run.sh        smoke test: 1 run x 3 s, fewer servers
#   BENCH_ONLY=sync bench/run.sh      only the kubernetes plugin's sync time and memory (results: bench/RESULTS-sync.md)
#
# Settings (environment): BENCH_SECONDS, BENCH_RUNS, BENCH_QUICK, BENCH_PORT_BASE (22000; ports BASE..BASE+40),
# BENCH_RESULTS (the markdown file written), BENCH_CHANGES (API changes timed), BENCH_KEEP=1 (keep the temp dir).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-}
if [[ $QUICK == 1 ]]; then
    RUN_SECONDS=${BENCH_SECONDS:-3}; RUNS=${BENCH_RUNS:-1}; CHANGES=${BENCH_CHANGES:-10}
    RESULTS=${BENCH_RESULTS:-$REPO/bench/RESULTS-quick.md}
else
    RUN_SECONDS=${BENCH_SECONDS:-10}; RUNS=${BENCH_RUNS:-3}; CHANGES=${BENCH_CHANGES:-50}
    RESULTS=${BENCH_RESULTS:-$REPO/bench/RESULTS.md}
fi
if [[ $ONLY == sync ]]; then RESULTS=${BENCH_RESULTS:-$REPO/bench/RESULTS-sync.md}; fi
BASE=${BENCH_PORT_BASE:-22000}
CLK_TCK=$(getconf CLK_TCK)
UPSTREAM_NAMES=5000
# dnsperf load: as in shared/reference/performance.md section 8.
DNSPERF_LOAD=(-c 4 -T 2 -q 100)
# Latency at a fixed rate: one dnsperf thread and at most 20 queries outstanding. dnsperf meets -Q by catching up
# in a burst (up to -q queries) whenever its thread was off CPU 0, and a 100-query burst queues at any server: dnsmasq
# at 60k QPS measured p99 1.9 ms with -q 100 and 0.25 ms with -q 20, the same rate achieved. -v prints each latency.
DNSPERF_LATENCY_LOAD=(-c 4 -T 1 -q 20)

# Ports: one block per role, all on 127.0.0.1.
P_EMULATOR=$((BASE + 0))
P_CD=$((BASE + 1)); P_CD_HEALTH=$((BASE + 2)); P_CD_READY=$((BASE + 3)); P_CD_PROM=$((BASE + 4))
P_CDNC=$((BASE + 5)); P_CDNC_HEALTH=$((BASE + 6)); P_CDNC_READY=$((BASE + 7)); P_CDNC_PROM=$((BASE + 8))
P_KNOT=$((BASE + 10)); P_UNBOUND=$((BASE + 11)); P_DNSMASQ=$((BASE + 12))
P_UPSTREAM=$((BASE + 20))
P_SYNC_EMULATOR=$((BASE + 30)); P_SYNC=$((BASE + 31)); P_SYNC_HEALTH=$((BASE + 32)); P_SYNC_READY=$((BASE + 33)); P_SYNC_PROM=$((BASE + 34))

WORK=$(mktemp -d /tmp/clusterdns-bench.XXXXXX)
RUNS_TSV=$WORK/runs.tsv          # scenario placement server run qps completed lost_pct latency_s cpu_s rss_kb
P99_TSV=$WORK/p99.tsv            # scenario server rate p50_ms p99_ms lost_pct achieved_qps
SYNC_TSV=$WORK/sync.tsv
CHANGES_TXT=$WORK/changes.txt
: >"$RUNS_TSV"; : >"$P99_TSV"; : >"$SYNC_TSV"; : >"$CHANGES_TXT"

declare -A PID=()                # name -> PID of every process this script started and has not stopped yet

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------------------------
# Processes: started in the background, remembered by PID, stopped by PID (TERM, then KILL after 5 s).

start_proc() {                   # start_proc NAME COMMAND...: output to $WORK/NAME.log
    local name=$1; shift
    # Emptied here, not only by the child's redirection: a caller that polls the log right after this returns
    # (start_emulator waits for the URL) must not read the previous process's output under the same name.
    : >"$WORK/$name.log"
    "$@" >"$WORK/$name.log" 2>&1 &
    PID[$name]=$!
}

stop_proc() {
    local name=$1 pid=${PID[$1]:-} i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

cleanup() {
    local name
    for name in "${!PID[@]}"; do stop_proc "$name"; done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() { kill -0 "${PID[$1]}" 2>/dev/null || die "$1 exited; see its log: $(tail -5 "$WORK/$1.log")"; }

wait_http_200() {                # wait_http_200 URL SECONDS
    local url=$1 deadline=$((SECONDS + $2))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true) == 200 ]]; do
        ((SECONDS < deadline)) || die "no 200 from $url within $2 s"
        sleep 0.02
    done
}

wait_dns() {                     # wait_dns PORT NAME SECONDS: until the server answers NAME SOA
    local deadline=$((SECONDS + $3))
    until dig +time=1 +tries=1 @127.0.0.1 -p "$1" "$2" SOA 2>/dev/null | grep -q 'status: NOERROR'; do
        ((SECONDS < deadline)) || die "nothing answers $2 SOA on port $1 within $3 s"
        sleep 0.1
    done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

cpu_seconds() {                  # utime+stime+cutime+cstime (dnsmasq forks for TCP; its children count)
    awk -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13 + $14 + $15) / tck }' "/proc/$1/stat"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

pin_threads() {                  # pin_threads PID CPULIST: every thread (knotd pins its workers itself)
    local task
    for task in /proc/"$1"/task/*; do taskset -p -c "$2" "${task##*/}" >/dev/null 2>&1 || true; done
}

# ---------------------------------------------------------------------------------------------------------------
# Preparation: packages, build, versions.

install_missing() {
    local -A need=([dnsperf]=dnsperf [knotd]=knot [unbound]=unbound [dnsmasq]=dnsmasq-base [dig]=dnsutils
        [kdig]=knot-dnsutils [curl]=curl [taskset]=util-linux [perl]=perl-base)
    local cmd missing=()
    for cmd in "${!need[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("${need[$cmd]}")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # Debian starts these as services on :53; the benchmark starts its own on loopback ports.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now unbound knot 2>/dev/null || true; fi
    PATH=$PATH:/usr/sbin
}

build() {
    log "building ClusterDns and the emulator (Release)"
    dotnet publish "$REPO/src/ClusterDns" -c Release -o "$WORK/clusterdns" -nologo -v quiet >"$WORK/build.log" 2>&1 ||
        die "build failed: $(tail -20 "$WORK/build.log")"
    dotnet publish "$REPO/src/ClusterDns.KubeEmulator" -c Release -o "$WORK/emulator" -nologo -v quiet >>"$WORK/build.log" 2>&1 ||
        die "emulator build failed: $(tail -20 "$WORK/build.log")"
}

versions() {
    echo "- ClusterDns: $(dotnet "$WORK/clusterdns/ClusterDns.dll" -version | head -1) ($(git -C "$REPO" rev-parse --short HEAD)), .NET SDK $(dotnet --version)"
    echo "- $(knotd -V | head -1); unbound $(unbound -V | awk '/^Version/ { print $2 }'); $(dnsmasq -v | head -1 | sed 's/  Copyright.*//')"
    echo "- dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')"
}

# ---------------------------------------------------------------------------------------------------------------
# Data: the synthetic cluster's names (ClusterFixtures.AddSyntheticCluster's plan), zone files, query files.

int_to_ip() { awk -v n="$1" 'BEGIN { printf "%d.%d.%d.%d", int(n / 16777216) % 256, int(n / 65536) % 256, int(n / 256) % 256, n % 256 }'; }

cluster_records() {              # cluster_records NS SVC PODS > "name ip" lines (A records of every Service name)
    awk -v NS="$1" -v SVC="$2" -v PODS="$3" '
        function ip(n) { return sprintf("%d.%d.%d.%d", int(n / 16777216) % 256, int(n / 65536) % 256, int(n / 256) % 256, n % 256) }
        BEGIN {
            for (n = 0; n < NS; n++) for (s = 0; s < SVC; s++) {
                i = n * SVC + s; name = "svc-" s ".ns-" n ".svc.cluster.local"
                if (s % 10 == 9) { for (k = 0; k < PODS; k++) print name, ip(183762944 + i * PODS + k + 1) }   # 10.244.0.0
                else print name, ip(174325760 + i + 1)                                                      # 10.100.0.0
            }
        }'
}

write_cluster_zone() {           # knotd zone file from records
    {
        echo '$TTL 30'
        echo 'cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30'
        echo 'cluster.local. NS ns.dns.cluster.local.'
        echo 'ns.dns.cluster.local. A 10.96.0.10'
        awk '{ print $1 ". A " $2 }' "$1"
    } >"$2"
}

write_upstream_zone() {
    {
        echo '$TTL 3600'
        echo 'example. SOA ns.example. hostmaster.example. 1 7200 1800 86400 3600'
        echo 'example. NS ns.example.'
        echo 'ns.example. A 10.200.0.1'
        awk -v N="$UPSTREAM_NAMES" 'BEGIN { for (h = 0; h < N; h++) printf "host-%d.example. A 10.201.%d.%d\n", h, int(h / 250), h % 250 + 1 }'
    } >"$1"
}

# Scenario query files (dnsperf format "name type"), identical for every server, shuffled with a fixed seed.
queries_cluster() {              # 80% A of existing Services, 10% NXDOMAIN, 10% NODATA (AAAA of IPv4-only Services)
    awk -v NS="$1" -v SVC="$2" 'BEGIN {
        srand(1)
        for (q = 0; q < 20000; q++) {
            n = int(rand() * NS); s = int(rand() * SVC); r = rand()
            if (r < 0.8) printf "svc-%d.ns-%d.svc.cluster.local A\n", s, n
            else if (r < 0.9) printf "nx-%d.ns-%d.svc.cluster.local A\n", s, n
            else printf "svc-%d.ns-%d.svc.cluster.local AAAA\n", s, n
        } }'
}

queries_search_walk() {          # a pod in "default" looks up host-h.example with ndots:5
    awk -v N="$UPSTREAM_NAMES" 'BEGIN {
        srand(2)
        for (q = 0; q < 5000; q++) {
            h = int(rand() * N)
            printf "host-%d.example.default.svc.cluster.local A\nhost-%d.example.svc.cluster.local A\n", h, h
            printf "host-%d.example.cluster.local A\nhost-%d.example A\n", h, h
        } }'
}

queries_upstream() {
    awk -v N="$UPSTREAM_NAMES" 'BEGIN { srand(3); for (q = 0; q < 20000; q++) printf "host-%d.example A\n", int(rand() * N) }'
}

# ---------------------------------------------------------------------------------------------------------------
# Servers.

write_corefile() {               # write_corefile FILE DNSPORT HEALTH READY PROM CACHE(0|1) PODS EMULATORPORT
    {
        echo ".:$2 {"
        echo "    errors"
        echo "    health :$3 {"
        echo "        lameduck 1s"
        echo "    }"
        echo "    ready :$4"
        echo "    kubernetes cluster.local in-addr.arpa ip6.arpa {"
        echo "        endpoint http://127.0.0.1:$8"
        echo "        pods $7"
        echo "        fallthrough in-addr.arpa ip6.arpa"
        echo "        ttl 30"
        echo "        startup_timeout 5m"
        echo "    }"
        echo "    prometheus :$5"
        echo "    forward . 127.0.0.1:$P_UPSTREAM {"
        echo "        max_concurrent 1000"
        echo "    }"
        [[ $6 == 1 ]] && echo "    cache 30"
        echo "    loop"
        echo "    reload"
        echo "    loadbalance"
        echo "}"
    } >"$1"
}

clusterdns_command() {
    if [[ -x $WORK/clusterdns/ClusterDns ]]; then echo "$WORK/clusterdns/ClusterDns"; else echo "dotnet $WORK/clusterdns/ClusterDns.dll"; fi
}

start_emulator() {               # start_emulator NAME PORT SPEC: returns once the fixtures are loaded (URL printed)
    local name=$1 deadline=$((SECONDS + 600))
    start_proc "$name" dotnet "$WORK/emulator/ClusterDns.KubeEmulator.dll" --port "$2" --synthetic "$3"
    until grep -q '^http://' "$WORK/$name.log" 2>/dev/null; do
        alive "$name"; ((SECONDS < deadline)) || die "$name did not print its URL"
        sleep 0.02
    done
}

declare -A CD_PORTS CD_PLACEMENT
start_clusterdns() {             # start_clusterdns NAME DNSPORT HEALTH READY PROM CACHE PODS EMULATORPORT
    local name=$1
    write_corefile "$WORK/$name.Corefile" "${@:2}"
    CD_PORTS[$name]="$2 $4"
    launch_clusterdns "$name" pinned
}

# Pinned, ClusterDns starts on CPU 1 alone, so it sizes itself (sockets, receive threads, thread pool) for the
# one CPU it has, as .NET does in a pod limited to one CPU; re-pinning a process that sized itself for two CPUs
# would put two receive threads on one core, which no deployment does. Unpinned, it starts with both CPUs.
launch_clusterdns() {            # launch_clusterdns NAME PLACEMENT
    local name=$1 pin=()
    [[ $2 == pinned ]] && pin=(taskset -c 1)
    # shellcheck disable=SC2046
    start_proc "$name" "${pin[@]}" $(clusterdns_command) -conf "$WORK/$name.Corefile" -quiet
    CD_PLACEMENT[$name]=$2
}

place_clusterdns() {             # place_clusterdns NAME PLACEMENT: restart it for that placement if needed
    local name=$1 ports
    [[ ${CD_PLACEMENT[$name]} == "$2" ]] && return 0
    read -ra ports <<<"${CD_PORTS[$name]}"
    stop_proc "$name"
    launch_clusterdns "$name" "$2"
    wait_http_200 "http://127.0.0.1:${ports[1]}/ready" 120
    wait_dns "${ports[0]}" cluster.local 60
    check_answers "$name" "${ports[0]}"
}

start_knot() {                   # start_knot NAME PORT ZONE-NAME ZONE-FILE
    local dir=$WORK/$1.d
    mkdir -p "$dir"
    cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir"
    listen: 127.0.0.1@$2
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$dir"
control:
    listen: "$dir/knot.sock"
template:
  - id: default
    storage: "$dir"
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: $3
    file: "$4"
EOF
    start_proc "$1" knotd -c "$dir/knot.conf"
}

start_unbound() {                # start_unbound NAME PORT RECORDS: cluster.local static + forward . with cache
    local dir=$WORK/$1.d
    mkdir -p "$dir"
    {
        cat <<EOF
server:
    interface: 127.0.0.1@$2
    port: $2
    do-daemonize: no
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    qname-minimisation: no
    cache-max-ttl: 30
    local-zone: "cluster.local." static
    local-data: "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30"
    local-data: "cluster.local. 30 IN NS ns.dns.cluster.local."
    local-data: "ns.dns.cluster.local. 30 IN A 10.96.0.10"
EOF
        awk '{ printf "    local-data: \"%s. 30 IN A %s\"\n", $1, $2 }' "$3"
        cat <<EOF
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$P_UPSTREAM
EOF
    } >"$dir/unbound.conf"
    start_proc "$1" unbound -d -c "$dir/unbound.conf"
}

start_dnsmasq() {                # start_dnsmasq NAME PORT RECORDS: host-records, cluster.local local, upstream cached
    local dir=$WORK/$1.d
    mkdir -p "$dir"
    {
        cat <<EOF
port=$2
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
pid-file=
user=root
local=/cluster.local/
server=127.0.0.1#$P_UPSTREAM
local-ttl=30
max-cache-ttl=30
cache-size=10000
dns-forward-max=1000
EOF
        awk '{ printf "host-record=%s,%s\n", $1, $2 }' "$3"
    } >"$dir/dnsmasq.conf"
    start_proc "$1" dnsmasq -k --conf-file="$dir/dnsmasq.conf"
}

# The same three answers from every server before it is measured: an A, an NXDOMAIN, a NODATA.
check_answers() {                # check_answers NAME PORT
    local a nx nodata
    a=$(dig +short +time=2 +tries=2 @127.0.0.1 -p "$2" svc-0.ns-0.svc.cluster.local A)
    nx=$(dig +time=2 +tries=2 @127.0.0.1 -p "$2" nx-0.ns-0.svc.cluster.local A | grep -o 'status: [A-Z]*')
    nodata=$(dig +time=2 +tries=2 @127.0.0.1 -p "$2" svc-0.ns-0.svc.cluster.local AAAA | grep -Eo 'status: [A-Z]*|ANSWER: [0-9]+' | tr '\n' ' ')
    [[ $a == 10.100.0.1 && $nx == 'status: NXDOMAIN' && $nodata == 'status: NOERROR ANSWER: 0 ' ]] ||
        die "$1 answers differently: A=$a NX=$nx NODATA=$nodata"
}

# ---------------------------------------------------------------------------------------------------------------
# Measurement.

dnsperf_for() {                  # dnsperf_for PLACEMENT SECONDS ARGS...: dnsperf (on CPU 0 when pinned), bounded in time
    local pin=()
    [[ $1 == pinned ]] && pin=(taskset -c 0)
    timeout "$2" "${pin[@]}" dnsperf "${@:3}"
}

measure() {                      # measure SCENARIO PLACEMENT SERVER PORT QUERYFILE MODE
    local scenario=$1 placement=$2 server=$3 port=$4 file=$5 mode=$6 pid r out cpu0 cpu1
    [[ $server == clusterdns* ]] && place_clusterdns "$server" "$placement"
    pid=${PID[$server]}
    alive "$server"
    if [[ $placement == pinned ]]; then pin_threads "$pid" 1; else pin_threads "$pid" 0-1; fi
    # One pass over the file first: caches warm, the JIT done, TCP accept paths exercised.
    dnsperf_for "$placement" 60 -s 127.0.0.1 -p "$port" -m "$mode" -d "$file" -n 1 "${DNSPERF_LOAD[@]}" >/dev/null 2>&1 || true
    for ((r = 1; r <= RUNS; r++)); do
        cpu0=$(cpu_seconds "$pid")
        if ! out=$(dnsperf_for "$placement" $((RUN_SECONDS + 60)) -s 127.0.0.1 -p "$port" -m "$mode" -d "$file" \
            -l "$RUN_SECONDS" "${DNSPERF_LOAD[@]}" 2>&1); then
            # dnsperf itself gives up on some anchors (over TCP, dnsmasq's forked children close under it): note
            # it and go on; a failure against ClusterDns is a result worth stopping for.
            [[ $server == clusterdns* ]] && die "dnsperf failed against $server: $(tail -3 <<<"$out")"
            log "  $scenario $placement $server run $r: dnsperf failed ($(tail -1 <<<"$out")); no further runs of it"
            return 0
        fi
        sleep 0.2                # dnsmasq reaps its TCP children
        cpu1=$(cpu_seconds "$pid")
        awk -v sc="$scenario" -v pl="$placement" -v sv="$server" -v r="$r" -v cpu="$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')" -v rss="$(rss_kb "$pid")" '
            /Queries completed:/ { completed = $3 }
            /Queries lost:/ { lost = $4; gsub(/[()%]/, "", lost) }
            /Queries per second:/ { qps = $4 }
            /Average Latency/ { lat = $4 }
            END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sc, pl, sv, r, qps, completed, lost, lat, cpu, rss }' \
            <<<"$out" >>"$RUNS_TSV"
        log "  $scenario $placement $server run $r: $(tail -1 "$RUNS_TSV" | cut -f5) QPS"
    done
}

median_qps() {                   # median_qps SCENARIO PLACEMENT SERVER
    awk -F'\t' -v sc="$1" -v pl="$2" -v sv="$3" '$1 == sc && $2 == pl && $3 == sv { print $5 }' "$RUNS_TSV" |
        sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'
}

measure_p99() {                  # measure_p99 SCENARIO SERVER PORT QUERYFILE MODE RATE: latency at a fixed rate
    local pid out=$WORK/p99.$1.$2.txt
    [[ $2 == clusterdns* ]] && place_clusterdns "$2" pinned
    pid=${PID[$2]}
    pin_threads "$pid" 1
    dnsperf_for pinned $((RUN_SECONDS + 60)) -s 127.0.0.1 -p "$3" -m "$5" -d "$4" -l "$RUN_SECONDS" \
        "${DNSPERF_LATENCY_LOAD[@]}" -Q "$6" -v >"$out" 2>&1 || die "dnsperf -Q failed against $2"
    awk '/^> / { print $NF * 1000 }' "$out" | sort -g | awk -v sc="$1" -v sv="$2" -v rate="$6" -v lost="$(awk '/Queries lost:/ { x = $4; gsub(/[()%]/, "", x); print x }' "$out")" \
        -v achieved="$(awk '/Queries per second:/ { printf "%d", $4 }' "$out")" '
        { v[NR] = $1 }
        END { if (NR) printf "%s\t%s\t%s\t%.3f\t%.3f\t%s\t%s\n", sc, sv, rate, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], lost, achieved }' >>"$P99_TSV"
    rm -f "$out"
    log "  $1 $2 at $6 QPS: p99 $(tail -1 "$P99_TSV" | cut -f5) ms"
}

# run_scenario SCENARIO QUERYFILE MODE SERVER:PORT...: the first server is the reference for the ratio and the rate
run_scenario() {
    local scenario=$1 file=$2 mode=$3 placement entry rate
    shift 3
    log "scenario $scenario"
    for placement in "${PLACEMENTS[@]}"; do
        for entry in "$@"; do measure "$scenario" "$placement" "${entry%%:*}" "${entry##*:}" "$file" "$mode"; done
    done
    rate=$(awk -v q="$(median_qps "$scenario" pinned "${1%%:*}")" 'BEGIN { printf "%d", q / 2 }')
    if ((rate > 0)); then
        for entry in "$@"; do measure_p99 "$scenario" "${entry%%:*}" "${entry##*:}" "$file" "$mode" "$rate"; done
    fi
}

# The servers of one synthetic cluster: emulator, ClusterDns with and without cache, the three anchors.
start_cluster_servers() {        # start_cluster_servers NS SVC PODS
    local records=$WORK/records.txt
    cluster_records "$1" "$2" "$3" >"$records"
    write_cluster_zone "$records" "$WORK/cluster.local.zone"
    log "cluster $1x$2x$3: $(wc -l <"$records") A records; starting emulator, ClusterDns and anchors"
    start_emulator emulator "$P_EMULATOR" "$1x$2x$3"
    start_clusterdns clusterdns "$P_CD" "$P_CD_HEALTH" "$P_CD_READY" "$P_CD_PROM" 1 insecure "$P_EMULATOR"
    start_clusterdns clusterdns-nocache "$P_CDNC" "$P_CDNC_HEALTH" "$P_CDNC_READY" "$P_CDNC_PROM" 0 insecure "$P_EMULATOR"
    start_knot knotd "$P_KNOT" cluster.local "$WORK/cluster.local.zone"
    start_unbound unbound "$P_UNBOUND" "$records"
    start_dnsmasq dnsmasq "$P_DNSMASQ" "$records"
    wait_http_200 "http://127.0.0.1:$P_CD_READY/ready" 120
    wait_http_200 "http://127.0.0.1:$P_CDNC_READY/ready" 120
    local name port
    for name in clusterdns:$P_CD clusterdns-nocache:$P_CDNC knotd:$P_KNOT unbound:$P_UNBOUND dnsmasq:$P_DNSMASQ; do
        port=${name##*:}
        wait_dns "$port" cluster.local 60
        check_answers "${name%%:*}" "$port"
    done
}

stop_cluster_servers() {
    local name
    for name in clusterdns clusterdns-nocache knotd unbound dnsmasq emulator; do stop_proc "$name"; done
}

# Time from an API write to the changed answer, through the cache-on ClusterDns (its cache must not keep the
# NXDOMAIN it just answered). One perl process: POST a Service, then query every 0.5 ms until it has an address.
measure_changes() {
    log "timing $CHANGES Service creations until ClusterDns answers them"
    cat >"$WORK/change.pl" <<'EOF'
use strict; use warnings; use IO::Socket::INET; use Time::HiRes qw(time sleep);
my ($api, $dns, $count) = @ARGV;
my $udp = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$dns", Proto => 'udp') or die "udp: $!";
sub answered {                   # 1 when the A query for $name has an answer
    my ($name, $id) = @_;
    my $q = pack('n n n n n n', $id, 0x0100, 1, 0, 0, 0);
    $q .= pack('C', length $_) . $_ for split /\./, $name;
    $q .= pack('C n n', 0, 1, 1);
    $udp->send($q);
    my $rin = ''; vec($rin, fileno($udp), 1) = 1;
    return 0 unless select(my $rout = $rin, undef, undef, 0.02);
    my $reply; $udp->recv($reply, 4096);
    my ($rid, $flags, undef, $an) = unpack('n n n n', $reply);
    return $rid == $id && ($flags & 15) == 0 && $an > 0;
}
for my $k (1 .. $count) {
    my $name = "chg-$k-$$";
    my $body = qq({"apiVersion":"v1","kind":"Service","metadata":{"name":"$name","namespace":"ns-0"},"spec":{"ports":[{"port":80}]}});
    my $t0 = time;
    my $http = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$api", Proto => 'tcp') or die "api: $!";
    print $http "POST /api/v1/namespaces/ns-0/services HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    my $status = <$http>; close $http;
    die "create failed: $status" unless $status =~ / 201 /;
    my $id = 0;
    until (answered("$name.ns-0.svc.cluster.local", ++$id & 0xffff)) {
        die "no answer for $name after 35 s" if time - $t0 > 35;
        sleep 0.0005;
    }
    printf "%.2f\n", (time - $t0) * 1000;
    sleep 0.05;
}
EOF
    timeout 600 perl "$WORK/change.pl" "$P_EMULATOR" "$P_CD" "$CHANGES" >"$CHANGES_TXT" || die "change timing failed"
}

# Sync time (process start to /ready 200) and RSS of ClusterDns for one synthetic cluster.
measure_sync() {                 # measure_sync NS SVC PODS PODSMODE
    local spec=$1x$2x$3 t_emulator t0 sync_ms plugin_ms rss server_cpu emulator_cpu
    log "sync: $spec, pods $4"
    t_emulator=$(now_ms)
    start_emulator sync-emulator "$P_SYNC_EMULATOR" "$spec"
    t_emulator=$(($(now_ms) - t_emulator))
    write_corefile "$WORK/sync.Corefile" "$P_SYNC" "$P_SYNC_HEALTH" "$P_SYNC_READY" "$P_SYNC_PROM" 1 "$4" "$P_SYNC_EMULATOR"
    emulator_cpu=$(cpu_seconds "${PID[sync-emulator]}")
    t0=$(now_ms)
    # shellcheck disable=SC2046
    start_proc sync-clusterdns $(clusterdns_command) -conf "$WORK/sync.Corefile" -quiet
    wait_http_200 "http://127.0.0.1:$P_SYNC_READY/ready" 300
    sync_ms=$(($(now_ms) - t0))
    server_cpu=$(cpu_seconds "${PID[sync-clusterdns]}")
    emulator_cpu=$(awk -v a="$emulator_cpu" -v b="$(cpu_seconds "${PID[sync-emulator]}")" 'BEGIN { printf "%.2f", b - a }')
    plugin_ms=$(grep -o 'in [0-9]* ms' "$WORK/sync-clusterdns.log" | head -1 | tr -dc 0-9)
    sleep 3                      # let the first GCs after the list settle
    rss=$(rss_kb "${PID[sync-clusterdns]}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$spec" "$4" $(($1 * $2)) $(($1 * $2 * $3)) "$t_emulator" "$sync_ms" "${plugin_ms:-?}" "$rss" \
        "$server_cpu" "$emulator_cpu" >>"$SYNC_TSV"
    log "  ready after $sync_ms ms (ClusterDns CPU $server_cpu s, emulator CPU $emulator_cpu s), RSS $((rss / 1024)) MB"
    stop_proc sync-clusterdns
    stop_proc sync-emulator
}

# ---------------------------------------------------------------------------------------------------------------
# Report.

scenario_table() {               # scenario_table SCENARIO TITLE
    echo "### $2"
    echo
    echo "| server | placement | QPS median | min | max | mean latency ms | p99 ms at ½ ClusterDns peak | lost % | RSS MB | server CPU-s per run | queries per CPU-s | ClusterDns ÷ this (queries per CPU-s) |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v sc="$1" '
        FNR == NR { if ($1 == sc) p99[$2] = $5; next }
        $1 != sc { next }
        {
            key = $3 SUBSEP $2
            if (!(key in n)) { order[++keys] = key; if (!($2 in ref)) ref[$2] = $3 }
            v = ++n[key]; q[key, v] = $5; done[key] += $6; lost[key] += $7; lat[key] += $8; cpu[key] += $9
            if ($10 > rss[key]) rss[key] = $10
        }
        END {
            for (k = 1; k <= keys; k++) {
                key = order[k]; m = n[key]
                for (i = 1; i <= m; i++) s[i] = q[key, i]
                for (i = 2; i <= m; i++) for (j = i; j > 1 && s[j - 1] > s[j]; j--) { t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
                qpc[key] = cpu[key] > 0 ? done[key] / cpu[key] : 0
                med[key] = s[int((m + 1) / 2)]; lo[key] = s[1]; hi[key] = s[m]
            }
            for (k = 1; k <= keys; k++) {
                key = order[k]; split(key, part, SUBSEP); m = n[key]
                refkey = ref[part[2]] SUBSEP part[2]
                ratio = qpc[key] > 0 ? sprintf("%.2f", qpc[refkey] / qpc[key]) : "–"
                p = (part[2] == "pinned" && (part[1] in p99)) ? p99[part[1]] : "–"
                printf "| %s | %s | %.0f | %.0f | %.0f | %.3f | %s | %.2f | %.1f | %.2f | %.0f | %s |\n", part[1], part[2],
                    med[key], lo[key], hi[key], lat[key] / m * 1000, p, lost[key] / m, rss[key] / 1024, cpu[key] / m, qpc[key], ratio
            }
        }' "$P99_TSV" "$RUNS_TSV"
    local rate
    rate=$(awk -F'\t' -v sc="$1" '$1 == sc { print $3; exit }' "$P99_TSV")
    [[ -n $rate ]] && echo && echo "p99 (and p50) at a fixed $rate QPS (half of the first row's pinned median), pinned: $(awk -F'\t' -v sc="$1" '$1 == sc { printf "%s%s p50 %s / p99 %s ms (%s QPS achieved, lost %s%%)", sep, $2, $4, $5, $7, $6; sep = "; " }' "$P99_TSV")."
    echo
}

write_results() {
    {
        echo "# ClusterDns benchmark results"
        echo
        echo "Command: \`$COMMAND_LINE\` (BENCH_SECONDS=$RUN_SECONDS, BENCH_RUNS=$RUNS, BENCH_QUICK=$QUICK)  "
        echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')  "
        echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r)$(
            awk '/^cpu / { printf ", steal %.1f%% since boot", $9 * 100 / ($2 + $3 + $4 + $5 + $6 + $7 + $8 + $9) }' /proc/stat), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
        echo
        versions
        echo
        echo "dnsperf \`${DNSPERF_LOAD[*]}\` over UDP (\`-m tcp\` for TCP) for $RUN_SECONDS s per run, $RUNS run(s) per row, after one warm-up pass over the query file."
        echo "Placements: \`pinned\` = every server thread on CPU 1, dnsperf on CPU 0 (ClusterDns is started on CPU 1, so it sizes itself for one CPU); \`unpinned\` = the scheduler decides."
        echo "p99 = dnsperf \`${DNSPERF_LATENCY_LOAD[*]} -Q RATE -v\` (one dnsperf thread, at most 20 outstanding) at half of ClusterDns's pinned median, pinned."
        echo "Anchors run one worker (knotd udp/tcp-workers 1, unbound num-threads 1, dnsmasq is single-threaded); ClusterDns runs as shipped."
        echo "Server CPU-s = utime+stime (+ reaped children) of the server process during the run, from /proc/PID/stat; RSS = VmRSS after the run."
        echo "The machine may be shared: compare rows within one table, not across runs."
        echo
        if [[ $ONLY != sync ]]; then
        echo "## dnsperf scenarios"
        echo
        scenario_table cluster "1. Cluster names, 10×100×3 (80% A, 10% NXDOMAIN, 10% NODATA)"
        scenario_table search "2. A pod's search-path walk for an external name (3 NXDOMAIN under cluster.local, then forwarded + cached)"
        scenario_table upstream "3. Cached upstream names (forward + cache, $UPSTREAM_NAMES names)"
        scenario_table tcp "4. TCP, cluster names (dnsperf -m tcp, 4 pipelined connections)"
        scenario_table cluster-10k "5. Cluster names, 10×1,000×3"
        fi
        echo "## kubernetes plugin: initial sync and memory"
        echo
        echo "Sync = ClusterDns process start to /ready 200 (the emulator already serving the objects); plugin = its own \"synced in\" log figure."
        echo "CoreDNS's published formula (coredns/deployment Scaling_CoreDNS.md): (pods + services)/1000 + 54 MB by default, (pods + services)/250 + 56 MB with autopath (pods verified); both include 30 MB for a full cache that is empty here."
        echo
        echo "ClusterDns CPU-s = its utime+stime from start to /ready (startup included); emulator CPU-s = the emulator's during the same time (serving the lists)."
        echo
        echo "| cluster NSxSVCxPODS | pods mode | services | pods | emulator load ms | sync ms | plugin ms | ClusterDns CPU-s | emulator CPU-s | RSS MB | CoreDNS formula MB |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' '{ f = $2 == "verified" ? ($3 + $4) / 250 + 56 : ($3 + $4) / 1000 + 54
            printf "| %s | %s | %d | %d | %d | %d | %s | %s | %s | %.1f | %.0f |\n", $1, $2, $3, $4, $5, $6, $7, $9, $10, $8 / 1024, f }' "$SYNC_TSV"
        echo
        if [[ $ONLY != sync ]]; then
        echo "## kubernetes plugin: API change to changed answer"
        echo
        sort -g "$CHANGES_TXT" | awk '{ v[NR] = $1 } END { if (NR) printf "%d Service creations in ns-0 (POST to the emulator, then an A query every 0.5 ms through ClusterDns with cache 30): median %.1f ms, p99 %.1f ms, max %.1f ms.\n", NR, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], v[NR] }'
        fi
    } >"$RESULTS"
}

# ---------------------------------------------------------------------------------------------------------------

main() {
    COMMAND_LINE=bench/run.sh
    if [[ $QUICK == 1 ]]; then COMMAND_LINE="BENCH_QUICK=1 $COMMAND_LINE"; fi
    PLACEMENTS=(pinned unpinned)
    local cluster_servers=(clusterdns:$P_CD clusterdns-nocache:$P_CDNC knotd:$P_KNOT unbound:$P_UNBOUND dnsmasq:$P_DNSMASQ)
    local forward_servers=(clusterdns:$P_CD unbound:$P_UNBOUND dnsmasq:$P_DNSMASQ)
    local tcp_servers=(clusterdns:$P_CD knotd:$P_KNOT unbound:$P_UNBOUND dnsmasq:$P_DNSMASQ)
    local large_servers=("${cluster_servers[@]}")
    if [[ $QUICK == 1 ]]; then
        cluster_servers=(clusterdns:$P_CD clusterdns-nocache:$P_CDNC knotd:$P_KNOT)
        forward_servers=(clusterdns:$P_CD unbound:$P_UNBOUND)
        tcp_servers=(clusterdns:$P_CD dnsmasq:$P_DNSMASQ)
        large_servers=(clusterdns:$P_CD knotd:$P_KNOT)
    fi

    install_missing
    build
    log "work dir $WORK; results go to $RESULTS"

    if [[ $ONLY == sync ]]; then
        COMMAND_LINE="BENCH_ONLY=sync $COMMAND_LINE"
        measure_sync 10 1000 3 insecure
        measure_sync 10 1000 3 verified
        measure_sync 100 100 10 verified
        write_results
        cat "$RESULTS"
        return
    fi

    write_upstream_zone "$WORK/example.zone"
    start_knot upstream "$P_UPSTREAM" example "$WORK/example.zone"
    wait_dns "$P_UPSTREAM" example 30

    queries_search_walk >"$WORK/q-search.txt"
    queries_upstream >"$WORK/q-upstream.txt"

    queries_cluster 10 100 >"$WORK/q-cluster.txt"
    start_cluster_servers 10 100 3
    run_scenario cluster "$WORK/q-cluster.txt" udp "${cluster_servers[@]}"
    run_scenario search "$WORK/q-search.txt" udp "${forward_servers[@]}"
    run_scenario upstream "$WORK/q-upstream.txt" udp "${forward_servers[@]}"
    run_scenario tcp "$WORK/q-cluster.txt" tcp "${tcp_servers[@]}"
    measure_changes
    stop_cluster_servers

    queries_cluster 10 1000 >"$WORK/q-cluster-10k.txt"
    start_cluster_servers 10 1000 3
    PLACEMENTS=(pinned)
    run_scenario cluster-10k "$WORK/q-cluster-10k.txt" udp "${large_servers[@]}"
    stop_cluster_servers

    measure_sync 10 1000 3 insecure
    if [[ $QUICK != 1 ]]; then
        measure_sync 10 1000 3 verified
        measure_sync 100 100 10 verified
    fi

    write_results
    cat "$RESULTS"
    log "wrote $RESULTS"
}

main "$@"
