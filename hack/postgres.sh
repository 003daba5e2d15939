#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries are installed, for the tests of the
# PostgreSQL state store (internal/issuer/store/postgres/pgtest starts a
# throwaway server from them). On a machine without them, installs Debian's
# postgresql package when running as root (or with sudo); the packaged
# cluster service is not needed and is not started by the tests.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if [[ -n "${IDTENANT_TEST_POSTGRES_URL:-}" ]]; then
  exit 0
fi
echo "== installing PostgreSQL (Debian package postgresql) for the state store tests"
if [[ $(id -u) -eq 0 ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
else
  echo "no PostgreSQL and no way to install it: the PostgreSQL store tests will be skipped (apt-get install postgresql, or set IDTENANT_TEST_POSTGRES_URL)" >&2
fi
