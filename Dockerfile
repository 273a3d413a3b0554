# syntax=docker/dockerfile:1
#
# dcis-mesh peer image: one `dcis start` per container.
#
#   docker build -t dcis-mesh:latest .
#   docker run -d --name dcis -p 4001:4001 -p 127.0.0.1:8080:8080 -v dcis-data:/data dcis-mesh:latest start --listen /ip4/0.0.0.0/tcp/4001 --api 0.0.0.0:8080
#
# docs/docker.md explains the volumes, ports, health check and the compose
# simulation in simulations/.
#
# Run it with a restart policy (`docker run --restart unless-stopped`,
# compose `restart: unless-stopped`): after an uncaught exception the peer
# exits with code 70 for the supervisor to restart it on the same /data
# volume (docs/operations.md).
#
# The base image is a build argument. Without a reachable registry, build a
# local one first (simulations/base-image.sh) and pass it:
#   docker build --build-arg BASE_IMAGE=dcis-base:bookworm-node24 -t dcis-mesh:sim .
ARG BASE_IMAGE=node:24-slim

# ---- build: all dependencies, compile TypeScript to dist/ ------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /app

# Manifests first, so the dependency layer is reused across source edits.
# package.json's `overrides` point @helia/libp2p at this folder: it must exist
# before `npm ci`.
COPY package.json package-lock.json ./
COPY src/storage/shims/helia-libp2p/ src/storage/shims/helia-libp2p/

# --ignore-scripts: the `prepare` script would build before the sources are
# copied. The other install scripts are not needed here: the `node`
# devDependency's only downloads a second Node 24 binary (without it npm links
# no node_modules/.bin/node, so npm scripts run on this image's Node 24),
# esbuild's and protobufjs' serve dev tools the build does not use, and
# classic-level loads its bundled prebuilt binary without one.
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
# npm run build also compiles the example Wasm functions (AssemblyScript)
COPY examples/ examples/
RUN npm run build

# ---- runtime: production dependencies + dist/ only ------------------------
FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DCIS_DATA_DIR=/data
WORKDIR /app

COPY package.json package-lock.json ./
COPY src/storage/shims/helia-libp2p/ src/storage/shims/helia-libp2p/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

COPY --from=build /app/dist/ dist/
COPY protocols/ protocols/
COPY bootstrap/ bootstrap/
COPY ui/ ui/

# /data: the peer's keys, datastore and blocks (one volume per peer).
# /shared: optional exchange folder (the compose simulation writes its
# bootstrap list there); created here so a fresh named volume is writable.
RUN mkdir -p /data /shared \
 && chown node:node /data /shared

USER node
VOLUME /data

# 4001: libp2p TCP; 8080: HTTP API
EXPOSE 4001 8080

# slim has no curl: Node's fetch. Port 8080 matches the --api in CMD below.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["start", "--listen", "/ip4/0.0.0.0/tcp/4001", "--api", "0.0.0.0:8080"]
