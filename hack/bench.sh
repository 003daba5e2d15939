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
# kube-apiserver and etcd on this machine) and the PostgreSQL store (a real
# server on this machine, fsync and synchronous commit on), in one run.
echo
echo "issuer state (memory vs Kubernetes vs PostgreSQL store, API server and database on this machine):"
printf '%-46s %12s %14s %14s %14s\n' benchmark refresh/s µs/roundtrip objects/session bytes/session
state_out="$(cd internal/issuer && "$bin" -test.run '^$' -test.bench 'BenchmarkState' -test.benchtime "$BENCHTIME")"
echo "$state_out" | awk '/^Benchmark/ {
  name=$1; sub(/-[0-9]+$/, "", name); rps=""; rt=""; obj=""; by="";
  for (i = 3; i < NF; i++) {
    if ($(i+1) == "refresh/s") rps=$i;
    if ($(i+1) == "µs/roundtrip") rt=$i;
    if ($(i+1) == "objects/session") obj=$i;
    if ($(i+1) == "bytes/session") by=$i;
  }
  printf "%-46s %12s %14s %14s %14s\n", name, rps, rt, obj, by
}'

# Collection against issuance: how fast the manager's collector deletes
# expired records (a real API server and etcd on this machine, default
# budgets) beside how fast one issuer on the Kubernetes store creates them
# (an SSO round trip leaves one code, collectable a minute later; the
# refresh family is a slot it updates), in this run.
echo
echo "state collection vs issuance (Kubernetes store, API server on this machine):"
coll="$(go test ./internal/statecollector/ -run '^$' -bench 'BenchmarkCollection' -benchtime 3x -count=1 | grep -E '^Benchmark')"
rt="$(echo "$state_out" | awk '/^BenchmarkStateSSORoundTrip\/[Kk]ube/ { for (i = 3; i < NF; i++) if ($(i+1) == "µs/roundtrip") print $i }' | head -1)"
echo "$coll" | awk -v rt="$rt" '{
  for (i = 3; i < NF; i++) { if ($(i+1) == "records/s") raw=$i; if ($(i+1) == "paced-records/s") paced=$i }
  issued = (rt > 0) ? 1e6 / rt : 0
  printf "%-46s %14s\n", "collected records/s (rounds back to back)", raw
  printf "%-46s %14s\n", "collected records/s (2 s between rounds)", paced
  if (issued > 0) {
    printf "%-46s %14.0f\n", "created records/s (one issuer, SSO round trips)", issued
    printf "%-46s %13.1fx\n", "collection / issuance (paced)", paced / issued
  }
}'

# The PostgreSQL store at size: FILL sessions (default 1,000,000; FILL=0
# skips, ~5 minutes on 2 cores) with a refresh family each, written through
# the store interface; size, refresh latency at that size against empty,
# collection rate.
if [ "${FILL:-1000000}" != "0" ]; then
  echo
  echo "PostgreSQL store filled (BenchmarkFill, server on this machine, durable defaults):"
  FILL="${FILL:-1000000}" go test ./internal/issuer/store/postgres/ -run '^$' -bench 'BenchmarkFill' -benchtime 1x -count=1 -timeout 60m | grep -E '^Benchmark' |
    awk '{ for (i = 3; i < NF; i++) m[$(i+1)] = $i;
      printf "%-46s %14d\n", "sessions (each with a refresh family)", m["sessions"];
      printf "%-46s %14.0f MiB + %.0f MiB\n", "tables + indexes", m["table-MiB"], m["index-MiB"];
      printf "%-46s %14.0f\n", "bytes per session", m["bytes/session"];
      printf "%-46s %9.2f / %.2f ms\n", "refresh (store part) p50 / p99, empty", m["empty-p50-µs"]/1000, m["empty-p99-µs"]/1000;
      printf "%-46s %9.2f / %.2f ms\n", "refresh (store part) p50 / p99, filled", m["full-p50-µs"]/1000, m["full-p99-µs"]/1000;
      printf "%-46s %14.0f\n", "expired rows collected/s", m["collected-rows/s"] }'
fi

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
