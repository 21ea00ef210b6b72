#!/usr/bin/env bash
# Refresh the browser library of the dashboard example (client-examples/dashboard/vendor/) from
# the npm registry, at the pinned version below, with its licence file. Needs npm and network;
# the server then serves it at /dashboard/vendor/, so the dashboard works offline (no CDN).
# Run from anywhere: bash scripts/vendor-client-examples.sh
# To upgrade, change the version, run this, run tests/browser/test_dashboard.py, commit.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAPHQL_WS=6.4.2        # graphql-ws: its UMD browser build (window.graphqlWs), graphql-transport-ws

dest=client-examples/dashboard/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --json "graphql-ws@$GRAPHQL_WS" > pack.json)
mkdir -p "$work/graphql-ws" && tar -xzf "$work/graphql-ws-$GRAPHQL_WS.tgz" -C "$work/graphql-ws"
package="$work/graphql-ws/package"

rm -rf "$dest" && mkdir -p "$dest/licenses"
# The minified build only; no source map is shipped with it.
sed -e '/^\/\/# sourceMappingURL=/d' "$package/umd/graphql-ws.min.js" > "$dest/graphql-ws.min.js"
cp "$package/LICENSE.md" "$dest/licenses/graphql-ws.LICENSE.md"

# What was vendored, with the registry's integrity of the tarball.
node -e '
const packs = require(process.argv[1]);
for (const p of packs) console.log(`${p.name}@${p.version} ${p.integrity}`);
' "$work/pack.json" > "$dest/VERSIONS"
echo "Vendored into $dest:" >&2
cat "$dest/VERSIONS" >&2
du -sh "$dest" >&2
