#!/usr/bin/env bash
# Vendor front-end assets from the npm registry into andon/web/static/vendor/.
#
# No CDN at run time, no front-end build step: this script downloads pinned
# package tarballs with `npm pack` (registry only, no install scripts run),
# verifies each tarball against its pinned sha512 integrity, and copies the
# prebuilt files we serve. Re-runnable: the vendor folder is replaced whole.
#
# To upgrade: change the version below, run `npm view NAME@VERSION dist.integrity`,
# update the integrity, re-run this script, and review the diff.
set -euo pipefail


# name|exact version|sha512 integrity as reported by the registry
PACKAGES=(
  "bootstrap|5.3.9|sha512-20cU0rcfw8WdxtVbmfU+xT2EjvVTw9Ror/h1Qvd7DXCujRg8OO9mdBCsmTHdJFf3BuadmBNJtgIuUXsBqSkk/w=="
  "bootstrap-icons|1.13.2|sha512-fAU1Ly3dH7hwRg+CB8EZ0Vl0fF80zgXHeUVJyfUOKzoURr+TbwISbCW5tKUoQLERaWYG2emTCybcPbD96hdD1A=="
  "htmx.org|2.0.11|sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/andon/web/static/vendor"

command -v npm >/dev/null || { echo "error: npm not found" >&2; exit 1; }
command -v node >/dev/null || { echo "error: node not found" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/andon-vendor.XXXXXX")"
STAGE="$WORK/stage"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$STAGE"

# sha512 integrity (SRI format) of a file, computed locally.
sri_sha512() {
  node -e 'const c=require("crypto"),f=require("fs");
    process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

# Fetch NAME@VERSION into $WORK/NAME/package, verify integrity, print integrity.
fetch() {
  local name="$1" version="$2" expected="$3"
  local dir="$WORK/pkg-$name"
  mkdir -p "$dir"
  # Run from the temp dir so no project package.json / lockfile is involved.
  (cd "$dir" && npm pack "$name@$version" \
     --ignore-scripts --json --silent) > "$dir/pack.json"
  local reported file
  reported="$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(j[0].integrity)' "$dir/pack.json")"
  file="$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(j[0].filename)' "$dir/pack.json")"
  local actual
  actual="$(sri_sha512 "$dir/$file")"
  if [[ "$reported" != "$expected" || "$actual" != "$expected" ]]; then
    echo "error: integrity mismatch for $name@$version" >&2
    echo "  pinned:   $expected" >&2
    echo "  npm:      $reported" >&2
    echo "  computed: $actual" >&2
    exit 1
  fi
  tar -xzf "$dir/$file" -C "$dir"
  echo "$name@$version ok" >&2
}

# copy SRC DST [optional]
copy() {
  local src="$1" dst="$2" optional="${3:-}"
  if [[ ! -f "$src" ]]; then
    if [[ "$optional" == optional ]]; then return 0; fi
    echo "error: missing expected file $src" >&2; exit 1
  fi
  mkdir -p "$(dirname "$dst")"
  cp "$src" "$dst"
}

{
  echo "# Vendored by scripts/vendor-static.sh from the npm registry -- do not edit by hand."
  echo "# package@version  tarball-integrity"
} > "$STAGE/VERSIONS.txt"

for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r name version integrity <<<"$entry"
  fetch "$name" "$version" "$integrity"
  printf '%s@%s  %s\n' "$name" "$version" "$integrity" >> "$STAGE/VERSIONS.txt"
done

# bootstrap
P="$WORK/pkg-bootstrap/package"
copy "$P/dist/css/bootstrap.min.css"          "$STAGE/bootstrap/bootstrap.min.css"
copy "$P/dist/css/bootstrap.min.css.map"      "$STAGE/bootstrap/bootstrap.min.css.map" optional
copy "$P/dist/js/bootstrap.bundle.min.js"     "$STAGE/bootstrap/bootstrap.bundle.min.js"
copy "$P/dist/js/bootstrap.bundle.min.js.map" "$STAGE/bootstrap/bootstrap.bundle.min.js.map" optional
copy "$P/LICENSE"                             "$STAGE/bootstrap/LICENSE"

# bootstrap-icons: the CSS refers to url("./fonts/bootstrap-icons.woff2?...")
# so fonts/ must sit next to the CSS file.
P="$WORK/pkg-bootstrap-icons/package"
copy "$P/font/bootstrap-icons.min.css"        "$STAGE/bootstrap-icons/bootstrap-icons.min.css"
copy "$P/font/fonts/bootstrap-icons.woff2"    "$STAGE/bootstrap-icons/fonts/bootstrap-icons.woff2"
copy "$P/font/fonts/bootstrap-icons.woff"     "$STAGE/bootstrap-icons/fonts/bootstrap-icons.woff"
copy "$P/LICENSE"                             "$STAGE/bootstrap-icons/LICENSE"

# htmx
P="$WORK/pkg-htmx.org/package"
copy "$P/dist/htmx.min.js"                    "$STAGE/htmx/htmx.min.js"
copy "$P/LICENSE"                             "$STAGE/htmx/LICENSE"

# Sanity check: every url(...) in the icons CSS must resolve in the copied layout.
css="$STAGE/bootstrap-icons/bootstrap-icons.min.css"
for ref in $(grep -o 'url("[^"]*")' "$css" | sed -e 's/^url("//' -e 's/")$//' -e 's/[?#].*//'); do
  if [[ ! -f "$STAGE/bootstrap-icons/$ref" ]]; then
    echo "error: $css refers to $ref which is not in the vendored layout" >&2; exit 1
  fi
done

# Replace the vendor folder contents.
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
cp -R "$STAGE" "$DEST"

echo "Vendored into ${DEST#"$ROOT"/}:" >&2
(cd "$DEST" && find . -type f | sort | sed 's|^\./|  |') >&2
