#!/usr/bin/env bash
# Runs the issuer benchmarks and prints a table.
#
# The token endpoint benchmark starts the issuer as a child process with
# GOMAXPROCS=1 pinned to CPU 0 (taskset); this script pins the load
# generator and the raw signing measurement to CPU 1, so the issuer has one
# core to itself. On a single-CPU machine both share it (numbers are then
# pessimistic). BENCHTIME (default 5s) sets each benchmark's duration.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME="${BENCHTIME:-5s}"
bin="$(mktemp -d)/issuer.test"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./internal/issuer/
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin=(taskset -c 1)
fi
out="$(cd internal/issuer && "${pin[@]}" "$bin" -test.run '^$' -test.bench 'ClientCredentials|CodePKCERoundTrip|TokenHandler' -test.benchtime "$BENCHTIME" -test.cpu 1)"
echo "$out" | grep -E '^(goos|goarch|cpu):' || true
echo "cores: $(nproc)"
echo
printf '%-50s %10s %12s %7s %14s %10s %11s %11s %16s\n' benchmark tokens/s raw-signs/s ratio issuer-µs/token issuer-cpu loadgen-cpu sign-share latency
echo "$out" | awk '/^Benchmark/ {
  name=$1; sub(/-[0-9]+$/, "", name); tps=""; raw=""; ratio=""; lat=""; ius=""; cpu=""; share=""; gen="";
  for (i = 3; i < NF; i++) {
    if ($(i+1) == "tokens/s") tps=$i;
    if ($(i+1) == "raw-signs/s") raw=$i;
    if ($(i+1) == "ratio") ratio=$i;
    if ($(i+1) == "issuer-µs/token") ius=$i;
    if ($(i+1) == "issuer-cpu-%") cpu=$i "%";
    if ($(i+1) == "sign-share") share=$i;
    if ($(i+1) == "loadgen-cpu-%") gen=$i "%";
    if ($(i+1) == "µs/roundtrip") lat=$i " µs";
    if ($(i+1) == "ns/op" && name ~ /TokenHandler/) lat=sprintf("%.1f µs CPU", $i/1000);
  }
  printf "%-50s %10s %12s %7s %14s %10s %11s %11s %16s\n", name, tps, raw, ratio, ius, cpu, gen, share, lat
}'

# Issuer state: the memory store against the Kubernetes store (a real
# kube-apiserver and etcd on this machine), in one run.
echo
echo "issuer state (memory vs Kubernetes store, API server on this machine):"
printf '%-46s %12s %14s %14s %14s\n' benchmark refresh/s µs/roundtrip objects/session bytes/session
(cd internal/issuer && "$bin" -test.run '^$' -test.bench 'BenchmarkState' -test.benchtime "$BENCHTIME") | awk '/^Benchmark/ {
  name=$1; sub(/-[0-9]+$/, "", name); rps=""; rt=""; obj=""; by="";
  for (i = 3; i < NF; i++) {
    if ($(i+1) == "refresh/s") rps=$i;
    if ($(i+1) == "µs/roundtrip") rt=$i;
    if ($(i+1) == "objects/session") obj=$i;
    if ($(i+1) == "bytes/session") by=$i;
  }
  printf "%-46s %12s %14s %14s %14s\n", name, rps, rt, obj, by
}'

# Operator benchmarks: a real control plane, the manager and issuer processes
# (internal/e2e). Apply-to-served latency over 50 changes, and tenants with
# 1000 and 5000 Applications. Set SCALE=0 to skip the (minutes-long) scale run.
echo
echo "operator (internal/e2e):"
benches='ApplyToServed|RefreshRollout'
if [ "${SCALE:-1}" != "0" ]; then benches='ApplyToServed|RefreshRollout|Scale'; fi
# ApplyToServed prints one row per figure: apply -> next token carries the
# value, apply -> status (the API and its Application) Ready with the value.
go test ./internal/e2e/ -run '^$' -bench "$benches" -benchtime 1x -count=1 -timeout 60m | grep -E '^Benchmark' |
  awk '{ name=$1; sub(/-[0-9]+$/, "", name);
         if (name ~ /ApplyToServed/) {
           for (i = 3; i < NF; i++) m[$(i+1)] = $i;
           printf "%-30s  %-44s %8s %8s %8s\n", name, sprintf("apply -> (%d changes, ms)", m["changes"]), "p50", "p95", "max";
           printf "%-30s  %-44s %8.0f %8.0f %8.0f\n", "", "next token carries the value", m["token-p50-ms"], m["token-p95-ms"], m["token-max-ms"];
           printf "%-30s  %-44s %8.0f %8.0f %8.0f\n", "", "status Ready with the value", m["status-p50-ms"], m["status-p95-ms"], m["status-max-ms"];
           next
         }
         if (name ~ /RefreshRollout/) {
           for (i = 3; i < NF; i++) m[$(i+1)] = $i;
           printf "%-30s  8 refresh chains, 2 replicas: steady %.0f refresh/s; rolling restart (%.1f s) %.0f refresh/s, %d requests failed in transit, %d chains lost\n", name, m["steady-refresh/s"], m["rollout-s"], m["rollout-refresh/s"], m["failed-requests"], m["lost-chains"];
           next
         }
         line=sprintf("%-30s", name);
         for (i = 3; i < NF; i += 2) line = line sprintf("  %s=%s", $(i+1), $i); print line }'

# The Tenant reconciler's pass over a tenant's Applications (1000
# Applications x 5 of 50 APIs), in process.
echo
echo "operator (controllers):"
go test ./controllers/ -run '^$' -bench 'GatherServed' -benchtime 10x -count=1 | grep -E '^Benchmark' |
  awk '{ name=$1; sub(/-[0-9]+$/, "", name); printf "%-30s  %.1f ms per reconcile\n", name, $3/1e6 }'
