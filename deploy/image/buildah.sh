#!/usr/bin/env bash
# buildah (or, with --podman first, podman) on the image storage private to this checkout:
# vfs driver, root and runroot under .cache/image (or NETFENCE_IMAGE_CACHE).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${NETFENCE_IMAGE_CACHE:-$root/.cache/image}"
tool=buildah
if [[ "${1:-}" == --podman ]]; then tool=podman; shift; fi
mkdir -p "$cache/storage" "$cache/run"
exec "$tool" --root "$cache/storage" --runroot "$cache/run" --storage-driver vfs "$@"
