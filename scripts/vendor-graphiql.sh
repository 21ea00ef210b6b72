#!/usr/bin/env bash
# Refresh the GraphiQL page's assets (static/graphiql/vendor/) from the npm registry, at the
# pinned versions below, with their licence files. Needs npm and network; the server then serves
# them itself, so GraphiQL works offline. Run from anywhere: bash scripts/vendor-graphiql.sh
# To upgrade, change a version, run this, check the page (tests/browser/test_graphiql.py), commit.
set -euo pipefail
cd "$(dirname "$0")/.."

REACT=18.2.0            # react and react-dom: the UMD builds (GraphiQL 3 supports React 16-18)
GRAPHIQL=3.9.0          # the first 3.x whose graphiql.min.js is minified (3.8.x ships it unminified, 3.5 MB)
EXPLORER=3.2.6          # @graphiql/plugin-explorer paired with graphiql 3.9 (@graphiql/react 0.29)

dest=static/graphiql/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

packages=("react@$REACT" "react-dom@$REACT" "graphiql@$GRAPHIQL" "@graphiql/plugin-explorer@$EXPLORER")
(cd "$work" && npm pack --json "${packages[@]}" > pack.json)
for tarball in "$work"/*.tgz; do
    name=$(basename "$tarball" .tgz)
    mkdir -p "$work/$name" && tar -xzf "$tarball" -C "$work/$name"
done
react="$work/react-$REACT/package" dom="$work/react-dom-$REACT/package"
graphiql="$work/graphiql-$GRAPHIQL/package" explorer="$work/graphiql-plugin-explorer-$EXPLORER/package"

rm -rf "$dest" && mkdir -p "$dest/licenses"
# Production builds only; the source-map comments go (the maps are not vendored).
strip_map() { sed -e '/^\/\/# sourceMappingURL=/d' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$1" > "$2"; }
strip_map "$react/umd/react.production.min.js" "$dest/react.production.min.js"
strip_map "$dom/umd/react-dom.production.min.js" "$dest/react-dom.production.min.js"
strip_map "$graphiql/graphiql.min.js" "$dest/graphiql.min.js"
strip_map "$graphiql/graphiql.min.css" "$dest/graphiql.min.css"
strip_map "$explorer/dist/index.umd.js" "$dest/plugin-explorer.umd.js"
strip_map "$explorer/dist/style.css" "$dest/plugin-explorer.css"

cp "$react/LICENSE" "$dest/licenses/react.LICENSE"
cp "$dom/LICENSE" "$dest/licenses/react-dom.LICENSE"
cp "$graphiql/LICENSE" "$dest/licenses/graphiql.LICENSE"
# The explorer's package has no licence file: its package.json says MIT, and it is published from
# the same repository as graphiql (graphql/graphiql), under that repository's licence.
{
    echo "@graphiql/plugin-explorer $EXPLORER: package.json \"license\": \"$(node -p "require('$explorer/package.json').license")\";"
    echo "published from the graphql/graphiql repository, whose LICENSE (shipped in graphiql $GRAPHIQL) reads:"
    echo
    cat "$graphiql/LICENSE"
} > "$dest/licenses/plugin-explorer.LICENSE"

# What was vendored, with the registry's integrity of each tarball.
node -e '
const packs = require(process.argv[1]);
for (const p of packs) console.log(`${p.name}@${p.version} ${p.integrity}`);
' "$work/pack.json" > "$dest/VERSIONS"
echo "Vendored into $dest:" >&2
cat "$dest/VERSIONS" >&2
du -sh "$dest" >&2
