#!/usr/bin/env bash
# Builds the gopherdl image: with Docker when a Docker engine answers, else with buildah
# from a local debootstrap base (no engine, no registry needed).
#
#   docker/build.sh [cpu|cuda]          (default cpu)
#
# Environment: XLA=0 to skip the XLA plugin (offline builds), TAG (default gopherdl:TARGET),
# GOPHERDL_IMAGE_WORK (default /var/tmp/gopherdl-image: base rootfs and container storage).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-cpu}
tag=${TAG:-gopherdl:$target}
xla=${XLA:-1}
goproxy=$(go env GOPROXY 2>/dev/null || echo https://proxy.golang.org,direct)

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  exec docker build -f "$repo/docker/Dockerfile" --target "$target" --build-arg XLA="$xla" \
    --build-arg GOPROXY="$goproxy" -t "$tag" "$repo"
fi

# No Docker engine: buildah and podman, as root.
[ "$(id -u)" = 0 ] || { echo "docker/build.sh: no Docker engine answers, and the buildah path needs root" >&2; exit 1; }
need=()
for p in buildah podman debootstrap runc; do command -v "$p" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "docker/build.sh: install ${need[*]} (or Docker)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }
fi

work=${GOPHERDL_IMAGE_WORK:-/var/tmp/gopherdl-image}
mkdir -p "$work/storage" "$work/run"
cat > "$work/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$work/storage"
runroot = "$work/run"
CONF
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_STORAGE_CONF=$work/storage.conf CONTAINERS_CONF=$work/containers.conf

# The base image, debian:trixie, from Debian's own mirror.
if ! podman image exists docker.io/library/debian:trixie; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$work/rootfs
  if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    rm -rf "$rootfs"
    echo "debootstrap trixie from $mirror"
    debootstrap --variant=minbase trixie "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log"; exit 1; }
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  rm -f "$rootfs"/etc/apt/sources.list.d/*
  echo "deb $mirror trixie main" > "$rootfs/etc/apt/sources.list"
  # Outbound HTTPS may be re-signed by a local CA: trust the host's extra CAs.
  if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  fi
  tar --numeric-owner -C "$rootfs" -cf "$work/base.tar" .
  podman import "$work/base.tar" localhost/debian:trixie >/dev/null
  podman tag localhost/debian:trixie docker.io/library/debian:trixie
  rm -f "$work/base.tar"
fi

buildah bud --isolation chroot --pull=never --network host --layers --format docker \
  --build-arg XLA="$xla" --build-arg GOPROXY="$goproxy" \
  --target "$target" -f "$repo/docker/Dockerfile" -t "$tag" "$repo"
echo "built $tag ($(podman image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.2f GB", $1/1e9}'))"
