#!/usr/bin/env bash
# Runs every fuzz target of the issuer for a short, bounded time each
# (FUZZTIME, default 15s). go test -fuzz takes one target per run, so the
# targets are listed from the test binary and run in turn. A failure leaves
# its reproducer under internal/issuer/testdata/fuzz/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-15s}"
pkgs=(./internal/issuer/)
for pkg in "${pkgs[@]}"; do
  targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
  for target in $targets; do
    echo "== fuzzing $pkg $target for $FUZZTIME"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done
