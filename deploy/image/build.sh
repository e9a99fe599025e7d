#!/usr/bin/env bash
# Builds the netfence image with buildah, as CI and `make image` do: no daemon, no registry,
# no network inside the build.
#
#   1. a Debian base with python3 from mmdebstrap (tarball cached under .cache/image/,
#      keyed by the mmdebstrap arguments), imported with podman;
#   2. a wheelhouse of netfence's dependencies made with pip outside the build (cached,
#      keyed by pyproject.toml and the Python version), copied into the build context;
#   3. buildah bud --isolation chroot --storage-driver vfs --build-arg OFFLINE=1.
#
# Prints the image size. Environment: IMAGE (tag, default localhost/netfence:VERSION),
# BASE (use this image instead of the mmdebstrap base; it must already be in storage),
# NETFENCE_IMAGE_CACHE (default .cache/image), PYTHON (default .venv/bin/python).
# Storage is private to the cache folder (buildah --root), so nothing leaks between
# checkouts; `deploy/image/buildah.sh ARGS` runs buildah on that storage.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cache="${NETFENCE_IMAGE_CACHE:-$root/.cache/image}"
python="${PYTHON:-$root/.venv/bin/python}"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' exporter/__init__.py)"
image="${IMAGE:-localhost/netfence:$version}"
suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
mkdir -p "$cache"
buildah() { "$root/deploy/image/buildah.sh" "$@"; }
start=$SECONDS

# 1. The base: python3 and its venv module on Debian minbase, without docs or man pages,
#    and what WeasyPrint needs to render the PDF reports (pango, a font).
mmdebstrap_args=(
  --variant=minbase
  --include=python3,python3-venv,libpango-1.0-0,libpangoft2-1.0-0,fonts-dejavu-core
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  "$suite"
)
if [[ -z "${BASE:-}" ]]; then
  key="$(printf '%s\n' "${mmdebstrap_args[@]}" | sha256sum | cut -c1-16)"
  tarball="$cache/base-$key.tar"
  BASE="localhost/netfence-base:$key"
  if [[ ! -s "$tarball" ]]; then
    echo "base: mmdebstrap $suite -> $tarball" >&2
    mmdebstrap --quiet --format=tar "${mmdebstrap_args[@]}" "$tarball.tmp"
    mv "$tarball.tmp" "$tarball"
  fi
  if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    echo "base: importing $tarball as $BASE" >&2
    "$root/deploy/image/buildah.sh" --podman import "$tarball" "$BASE" >/dev/null
  fi
fi

# 2. The wheelhouse: every dependency, and the build backend, as wheels for this Python.
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
key="$(cat pyproject.toml setup.py <(echo "$pyver") | sha256sum | cut -c1-16)"
wheels="$cache/wheelhouse-$key"
if [[ ! -d "$wheels" ]]; then
  echo "wheelhouse: pip wheel -> $wheels" >&2
  rm -rf "$wheels.tmp"
  if ! "$python" -m pip wheel --quiet --wheel-dir "$wheels.tmp" . 'setuptools>=77' \
    >"$cache/pip.log" 2>&1; then
    cat "$cache/pip.log" >&2
    exit 1
  fi
  rm -f "$wheels.tmp"/netfence-*.whl
  mv "$wheels.tmp" "$wheels"
fi
find deploy/image/wheelhouse -name '*.whl' -delete
cp "$wheels"/*.whl deploy/image/wheelhouse/

# 3. The build, offline: pip inside it reads only the wheelhouse (--no-index).
echo "build: $image from $BASE" >&2
built=$SECONDS
buildah bud --quiet --isolation chroot --layers=false \
  --file deploy/image/Containerfile \
  --build-arg BASE="$BASE" --build-arg OFFLINE=1 --build-arg VERSION="$version" \
  --tag "$image" . >/dev/null
find deploy/image/wheelhouse -name '*.whl' -delete
buildah rmi --prune >/dev/null 2>&1 || true
size="$(buildah images --format '{{.Size}}' "$image" | head -1)"
echo "image $image: $size (build $((SECONDS - built)) s, total $((SECONDS - start)) s)"
