# Shared by faults.sh and soak.sh: build, start and stop the stack (published server, KubeEmulator, a dnsmasq
# upstream), all on loopback ports of one base (default 24000), every process killed by the PID we started.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-/tmp/clusterdns-reliability}
PORT_BASE=${PORT_BASE:-24000}
DNS_PORT=$((PORT_BASE + 53))
UPSTREAM_PORT=$((PORT_BASE + 54))
API_PORT=$((PORT_BASE + 80))
HEALTH_PORT=$((PORT_BASE + 81))
READY_PORT=$((PORT_BASE + 82))
METRICS_PORT=$((PORT_BASE + 83))
PUBLISH_DIR=${PUBLISH_DIR:-$WORK/publish}
# A NativeAOT publish has no ClusterDns.KubeEmulator.dll: point EMULATOR_DIR at a framework-dependent one.
LOADCHECK="$WORK/loadcheck/ClusterDns.LoadCheck.dll"
CONFIGMAP="$WORK/configmap"
STARTED_PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_ms() { date +%s%3N; }

require_tools() {
    local missing=()
    command -v dig >/dev/null || missing+=(dnsutils)
    command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
    command -v dnsperf >/dev/null || missing+=(dnsperf)
    command -v kubectl >/dev/null || log "kubectl not found: scenario b creates its Service with curl instead"
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get install -y "${missing[@]}" >/dev/null
    fi
}

# The same publish command as the Dockerfile's build stage (unless PUBLISH_DIR points at an existing one).
build() {
    mkdir -p "$WORK"
    if [[ ! -f "$PUBLISH_DIR/ClusterDns.dll" && ! -x "$PUBLISH_DIR/ClusterDns" ]]; then
        log "dotnet publish src/ClusterDns -c Release -o $PUBLISH_DIR"
        dotnet publish "$ROOT/src/ClusterDns" -c Release -o "$PUBLISH_DIR" >"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log"; exit 1; }
    fi
    if [[ ! -f "$LOADCHECK" ]]; then
        dotnet build "$ROOT/bench/ClusterDns.LoadCheck" -c Release -o "$WORK/loadcheck" >"$WORK/loadcheck-build.log" 2>&1 || { cat "$WORK/loadcheck-build.log"; exit 1; }
    fi
}

track() { STARTED_PIDS+=("$1"); }

stop_all() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    STARTED_PIDS=()
}

wait_port_free() {
    local port=$1 i
    for i in $(seq 50); do
        ss -Hlntu "sport = :$port" | grep -q . || return 0
        sleep 0.2
    done
    log "port $port still in use"; return 1
}

EMULATOR_PID=
start_emulator() {
    wait_port_free "$API_PORT"
    dotnet "${EMULATOR_DIR:-$PUBLISH_DIR}/ClusterDns.KubeEmulator.dll" --port "$API_PORT" --demo >>"$WORK/emulator.log" 2>&1 &
    EMULATOR_PID=$!
    track "$EMULATOR_PID"
    local i
    for i in $(seq 100); do
        curl -sf "http://127.0.0.1:$API_PORT/version" >/dev/null && return 0
        sleep 0.1
    done
    log "emulator did not start"; return 1
}

# dnsmasq as the upstream: cached.up.test and warm.up.test fixed, any name under any.up.test answers 192.0.2.99.
UPSTREAM_PID=
start_upstream() {
    wait_port_free "$UPSTREAM_PORT"
    dnsmasq --keep-in-foreground --port="$UPSTREAM_PORT" --listen-address=127.0.0.1 --bind-interfaces \
        --no-resolv --no-hosts --local-ttl=300 --pid-file="$WORK/dnsmasq.pid" \
        --host-record=cached.up.test,192.0.2.1 --address=/any.up.test/192.0.2.99 >>"$WORK/upstream.log" 2>&1 &
    UPSTREAM_PID=$!
    track "$UPSTREAM_PID"
    local i
    for i in $(seq 50); do
        [[ $(dig +short +time=1 +tries=1 @127.0.0.1 -p "$UPSTREAM_PORT" cached.up.test) == 192.0.2.1 ]] && return 0
        sleep 0.1
    done
    log "upstream did not start"; return 1
}

# A Corefile like Corefile.example against the emulator and the upstream, plus an inline hosts entry whose address
# scenario d flips.
write_corefile() {
    local flip=$1
    cat <<EOF
.:$DNS_PORT {
    errors
    health 127.0.0.1:$HEALTH_PORT {
        lameduck 5s
    }
    ready 127.0.0.1:$READY_PORT
    hosts {
        $flip flip.test
        fallthrough
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        endpoint http://127.0.0.1:$API_PORT
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus 127.0.0.1:$METRICS_PORT
    forward . 127.0.0.1:$UPSTREAM_PORT {
        max_concurrent 1000
    }
    cache 30
    reload 2s 1s
    loadbalance
}
EOF
}

# The kubelet's ConfigMap layout: ..data -> ..<timestamp>/, Corefile -> ..data/Corefile; an update writes a new
# timestamped directory and swaps ..data atomically (symlink then rename), then removes the old directory.
CONFIGMAP_GENERATION=0
configmap_write() {
    local flip=$1 old new
    mkdir -p "$CONFIGMAP"
    CONFIGMAP_GENERATION=$((CONFIGMAP_GENERATION + 1))
    new="..2026_01_01_00_00_00.$(printf '%06d' "$CONFIGMAP_GENERATION")"
    mkdir "$CONFIGMAP/$new"
    write_corefile "$flip" >"$CONFIGMAP/$new/Corefile"
    old=$(readlink "$CONFIGMAP/..data" 2>/dev/null || true)
    ln -sfn "$new" "$CONFIGMAP/..data_tmp"
    mv -T "$CONFIGMAP/..data_tmp" "$CONFIGMAP/..data"
    [[ -e "$CONFIGMAP/Corefile" ]] || ln -s ..data/Corefile "$CONFIGMAP/Corefile"
    [[ -n "$old" && "$old" != "$new" ]] && rm -rf "${CONFIGMAP:?}/$old"
    return 0
}

SERVER_PID=
start_server() {
    rm -rf "$CONFIGMAP"
    CONFIGMAP_GENERATION=0
    configmap_write 10.1.0.1
    wait_port_free "$DNS_PORT"
    ulimit -n "$(ulimit -Hn)" # 5,000 client sockets in scenario a; the server itself caps TCP at 1,000
    dotnet "$PUBLISH_DIR/ClusterDns.dll" -conf "$CONFIGMAP/Corefile" >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    track "$SERVER_PID"
    local i
    for i in $(seq 300); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$READY_PORT/ready") == 200 ]] && return 0
        sleep 0.1
    done
    log "server not ready"; return 1
}

start_stack() {
    : >"$WORK/server.log"
    start_emulator
    start_upstream
    start_server
}

# What the checker and dnsperf ask: cluster names (the demo fixture), a hosts entry, a cached upstream name.
write_expectations() {
    cat >"$WORK/expect.txt" <<'EOF'
nginx-service.default.svc.cluster.local A 10.96.100.10
web.default.svc.cluster.local A 10.244.1.20,10.244.1.21
api.demo.svc.cluster.local A 10.96.200.10
nothere.default.svc.cluster.local A NXDOMAIN
dual.default.svc.cluster.local AAAA fd00:10:96::20
kube-dns.kube-system.svc.cluster.local A 10.96.0.10
flip.test A 10.1.0.1
cached.up.test A 192.0.2.1
EOF
    cat >"$WORK/dnsperf.txt" <<'EOF'
nginx-service.default.svc.cluster.local A
web.default.svc.cluster.local A
api.demo.svc.cluster.local A
nothere.default.svc.cluster.local A
kubernetes.default.svc.cluster.local A
cached.up.test A
EOF
}

metric() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
