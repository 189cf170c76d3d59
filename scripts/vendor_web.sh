#!/usr/bin/env bash
# How the dashboard's third-party assets in web/vendor/ were fetched — for the record and to
# refresh them. The dashboard never loads anything from a CDN: these files are committed and
# served by the app itself, so the command centre works with no internet at all.
#
#   scripts/vendor_web.sh            # fetch the pinned versions from the npm registry
#
# Needs `npm` (Debian: apt-get install npm). Only the registry tarballs are used (`npm pack`,
# no install scripts run); their sha256 is checked against the pins below, then the dist
# files are copied. Bumping a version: change it here, run, update the sha256 and
# web/vendor/README.md, and look at the dashboard (tests/test_dashboard_browser.py).
set -euo pipefail

cd "$(dirname "$0")/.."
VENDOR=web/vendor

LEAFLET_VERSION=1.9.4
LEAFLET_SHA256=84c65a256e50657896f54c33bd857b6849ebe94c817803be818bf32a3dde0b77
VECTORGRID_VERSION=1.3.0
VECTORGRID_SHA256=4eaf00b9c3c80e53d59a84a9d3523f1b9ae3149e709db6fa293e9c292739ed7e

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION SHA256 → unpacked into $work/NAME/package
    local name=$1 version=$2 sha=$3 tarball
    tarball=$(cd "$work" && npm pack --silent "$name@$version" | tail -n 1)
    echo "$sha  $work/$tarball" | sha256sum --check --quiet \
        || { echo "sha256 mismatch for $name@$version" >&2; exit 1; }
    mkdir -p "$work/$name"
    tar -xzf "$work/$tarball" -C "$work/$name"
}

fetch leaflet "$LEAFLET_VERSION" "$LEAFLET_SHA256"
fetch leaflet.vectorgrid "$VECTORGRID_VERSION" "$VECTORGRID_SHA256"

rm -rf "$VENDOR/leaflet" "$VENDOR/leaflet.vectorgrid"
mkdir -p "$VENDOR/leaflet/images" "$VENDOR/leaflet.vectorgrid"

# Leaflet: the minified build, its stylesheet and the marker/layer images the CSS refers to.
cp "$work/leaflet/package/dist/leaflet.js" "$work/leaflet/package/dist/leaflet.css" "$VENDOR/leaflet/"
cp "$work/leaflet/package/dist/images/"*.png "$VENDOR/leaflet/images/"
cp "$work/leaflet/package/LICENSE" "$VENDOR/leaflet/LICENSE"

# Leaflet.VectorGrid: the bundle (includes pbf, vector-tile, geojson-vt, topojson-client).
# The package ships no LICENSE file; its README states its licence (Beerware, "Legalese")
# and those of the bundled libraries ("Under … license" lines): those are kept.
cp "$work/leaflet.vectorgrid/package/dist/Leaflet.VectorGrid.bundled.min.js" "$VENDOR/leaflet.vectorgrid/"
awk '/^## /{keep = ($0 ~ /^## Legalese/)} keep || /\(Under [A-Za-z]+ license\)/' \
    "$work/leaflet.vectorgrid/package/README.md" > "$VENDOR/leaflet.vectorgrid/LICENSE"

# The repository's hook rejects CDN URLs anywhere in web/; the dist files must not need one.
if grep -rIlE 'unpkg\.com|jsdelivr|cdnjs|googleapis|api\.mapbox\.com' "$VENDOR"; then
    echo "a vendored file refers to a CDN (listed above)" >&2
    exit 1
fi
echo "vendored leaflet $LEAFLET_VERSION and leaflet.vectorgrid $VECTORGRID_VERSION into $VENDOR"
