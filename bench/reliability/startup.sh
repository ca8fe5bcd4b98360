#!/usr/bin/env bash
# The published binary: size on disk, time from start to the first answer (a cluster name from the KubeEmulator),
# and RSS at idle 10 s later. Runs the publish output in PUBLISH_DIR as the Dockerfile does (`dotnet ClusterDns.dll`),
# or its executable for a self-contained or NativeAOT publish (then EMULATOR_DIR names a framework-dependent publish
# for the KubeEmulator).
#
#   PUBLISH_DIR=/tmp/out bench/reliability/startup.sh [RUNS]       (default 3)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

RUNS=${1:-3}
trap stop_all EXIT
require_tools
build
# Framework-dependent: through dotnet, as the Dockerfile. Self-contained (trimmed) or NativeAOT: the executable.
if [[ -f "$PUBLISH_DIR/ClusterDns.dll" && ! -f "$PUBLISH_DIR/libcoreclr.so" ]]; then SERVER=(dotnet "$PUBLISH_DIR/ClusterDns.dll"); else SERVER=("$PUBLISH_DIR/ClusterDns"); fi
echo "publish size: $(du -sh --apparent-size "$PUBLISH_DIR" | cut -f1) ($(du -sh --apparent-size --exclude='*.pdb' --exclude='*.dbg' "$PUBLISH_DIR" | cut -f1) without symbols); ${SERVER[*]}"

start_emulator
start_upstream
rm -rf "$CONFIGMAP"; configmap_write 10.1.0.1
for run in $(seq "$RUNS"); do
    wait_port_free "$DNS_PORT"
    t0=$(now_ms)
    "${SERVER[@]}" -conf "$CONFIGMAP/Corefile" -quiet >>"$WORK/startup-server.log" 2>&1 &
    pid=$!
    first=
    for _ in $(seq 3000); do
        if [[ $(dig +short +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" nginx-service.default.svc.cluster.local 2>/dev/null) == 10.96.100.10 ]]; then
            first=$(($(now_ms) - t0)); break
        fi
        sleep 0.01
    done
    sleep 10
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    metrics=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/metrics")
    forward=$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$DNS_PORT" cached.up.test)
    echo "run $run: first answer after ${first:-none} ms; idle RSS $((rss / 1024)) MiB; /metrics $metrics; forward answer ${forward:-none}"
    kill "$pid"; wait "$pid" || true
done
