#!/bin/sh
# Checks what this host can do towards the multi-arch image
# (docs/multi-arch.md) and, with --build, builds the linux/arm64 image under
# emulation. Never pushes. Exit 0: every step it could run passed; 2: a step
# could not run here (the message says which and why); 1: a step failed.
#
#   scripts/multiarch-check.sh            # report only
#   scripts/multiarch-check.sh --build    # + docker buildx build --platform linux/arm64 (slow under qemu)
set -u
cd "$(dirname "$0")/.." || exit 1
build=0
[ "${1:-}" = "--build" ] && build=1
missing=0

say () { printf '%s\n' "$*"; }

say "host arch: $(uname -m) (OCI: $(case "$(uname -m)" in x86_64) echo amd64;; aarch64) echo arm64;; riscv64) echo riscv64;; *) uname -m;; esac))"
if ! command -v docker >/dev/null 2>&1; then
  say "SKIP: no docker CLI: cannot build images here"; exit 2
fi
if ! docker info >/dev/null 2>&1; then
  say "SKIP: the docker daemon is not reachable: cannot build images here"; exit 2
fi
if docker buildx version >/dev/null 2>&1; then
  say "ok: docker buildx $(docker buildx version | awk '{print $2}')"
else
  say "MISSING: docker buildx (Debian: apt-get install docker-buildx; or the docker-buildx-plugin package)"; missing=1
fi
# emulation: a binfmt_misc handler for aarch64 (qemu-user-static / qemu-user-binfmt from Debian, or tonistiigi/binfmt)
if [ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  say "ok: qemu-aarch64 registered in binfmt_misc ($(grep interpreter /proc/sys/fs/binfmt_misc/qemu-aarch64))"
elif [ "$(uname -m)" = "aarch64" ]; then
  say "ok: native arm64 host, no emulation needed"
else
  say "MISSING: no qemu-aarch64 binfmt handler (Debian: apt-get install qemu-user-static binfmt-support; or docker run --privileged --rm tonistiigi/binfmt --install arm64)"; missing=1
fi
if [ "$build" = 0 ]; then
  [ "$missing" = 0 ] && say "ready: run with --build to build linux/arm64" && exit 0
  exit 2
fi
[ "$missing" = 0 ] || { say "SKIP: cannot build linux/arm64 here (see MISSING above)"; exit 2; }
docker buildx build --platform linux/arm64 -t dcis-mesh:arm64-check --load . || { say "FAIL: the linux/arm64 build failed"; exit 1; }
docker run --rm --platform linux/arm64 dcis-mesh:arm64-check --version || { say "FAIL: the arm64 image does not run"; exit 1; }
say "ok: linux/arm64 image built and ran under emulation"
