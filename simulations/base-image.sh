#!/usr/bin/env bash
# Builds a local Node 24 base image for the Dockerfile when no image registry
# is reachable (no node:24-slim to pull):
#
#   simulations/base-image.sh [TAG]        # default TAG: dcis-base:bookworm-node24
#   docker build --build-arg BASE_IMAGE=dcis-base:bookworm-node24 -t dcis-mesh:sim .
#
# debootstrap --variant=minbase bookworm, plus the Node 24 binary of the
# `node` npm package (node_modules/node, so run `npm ci` first), the host's
# npm, the host's CA bundle (containers then trust the same registry CA as
# the host: NODE_EXTRA_CA_CERTS) and a `node` user (uid 1000, as in
# node:24-slim); then `docker import`. Needs root, debootstrap and a Debian
# mirror (the host's apt sources); about 30-60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-dcis-base:bookworm-node24}"
NODE_BIN="node_modules/node/bin/node"
MIRROR="${DEBIAN_MIRROR:-$(grep -hoE '^(deb|URIs:) *https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -oE 'https?://[^ ]+' | head -1 || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"

[ -x "$NODE_BIN" ] || { echo "base-image: $NODE_BIN missing: run npm ci first" >&2; exit 1; }
"$NODE_BIN" --version | grep -q '^v24\.' || { echo "base-image: $NODE_BIN is not Node 24" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "base-image: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo "base-image: no host CA bundle at /etc/ssl/certs/ca-certificates.crt" >&2; exit 1; }

ROOT="$(mktemp -d /tmp/dcis-base.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
echo "base-image: debootstrap bookworm from $MIRROR into $ROOT" >&2
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >/tmp/dcis-base-debootstrap.log 2>&1 \
  || { echo "base-image: debootstrap failed, see /tmp/dcis-base-debootstrap.log" >&2; exit 1; }

install -m 0755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
mkdir -p "$ROOT/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
chroot "$ROOT" /usr/sbin/groupadd --gid 1000 node
chroot "$ROOT" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

echo "base-image: docker import -> $TAG" >&2
tar -C "$ROOT" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null
docker run --rm "$TAG" node -e 'console.log("base-image: " + process.version + " ok")'
