# shellcheck shell=bash
# The local Kubernetes control plane's binaries, sourced by scripts/bootstrap.sh --cluster (which defines log,
# go_build_with_progress, build_dapr_service, BIN, TOOLS_DIR and DAPR_VERSION).
#
# etcd, kube-apiserver, kube-controller-manager and kubectl come from the Go module next to this file: it requires
# k8s.io/kubernetes and pins each k8s.io/* staging module with a replace line (`go install` of kube-apiserver fails on
# k8s.io/kubernetes's own replace directives), and etcd at the version Kubernetes itself requires, so one go.sum pins
# all of them. etcd comes from the module proxy rather than Debian's etcd-server 3.4: Kubernetes 1.34 is built and
# tested against etcd 3.6, and the build needs no root and no apt.

KUBE_TOOLCHAIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_BINARIES=(etcd kube-apiserver kube-controller-manager kubectl)

# The Kubernetes version the module pins (k8s.io/kubernetes vX.Y.Z).
kube_version() { sed -n 's/^\tk8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$KUBE_TOOLCHAIN_DIR/go.mod"; }

# kube_ldflags VERSION: the version the binaries report; without it /version says v0.0.0 and the API server's
# compatibility version is wrong.
kube_ldflags() {
  local minor=${1#v1.} pkg
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' "$pkg" "$1" "$pkg" "$pkg" "$minor" "$pkg"
  done
}

build_kubernetes() {
  local version ldflags fingerprint name
  version=$(kube_version)
  ldflags=$(kube_ldflags "$version")
  # What the cached binaries were built from: the module's pins and the ldflags.
  fingerprint=$(cat "$KUBE_TOOLCHAIN_DIR/go.mod" "$KUBE_TOOLCHAIN_DIR/go.sum" - <<<"$ldflags" | sha256sum | cut -c1-16)
  local cached=true
  for name in "${KUBE_BINARIES[@]}"; do [ -x "$BIN/$name" ] || cached=false; done
  if $cached && [ "$(cat "$BIN/kubernetes.version" 2>/dev/null)" = "$version $fingerprint" ]; then
    log "kubernetes $version (etcd, kube-apiserver, kube-controller-manager, kubectl): cached"; return
  fi
  log "kubernetes $version: building etcd, kube-apiserver, kube-controller-manager and kubectl (about 8 min cold on 2 idle cores)"
  local -A packages=(
    [etcd]=go.etcd.io/etcd/server/v3
    [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
    [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
    [kubectl]=k8s.io/kubernetes/cmd/kubectl
  )
  for name in "${KUBE_BINARIES[@]}"; do
    CGO_ENABLED=0 go_build_with_progress "$KUBE_TOOLCHAIN_DIR" "${packages[$name]}" "$BIN/$name.new" -trimpath -ldflags "$ldflags"
    mv "$BIN/$name.new" "$BIN/$name"
  done
  echo "$version $fingerprint" > "$BIN/kubernetes.version"
  log "kubernetes $version: built"
}

# Dapr's CRDs at our daprd version, from the same module (its Helm chart's crds/), for the cluster test.
fetch_dapr_crds() {
  local dir="$TOOLS_DIR/dapr-$DAPR_VERSION/crds"
  if [ -n "$(ls "$dir"/*.yaml 2>/dev/null)" ]; then log "Dapr $DAPR_VERSION CRDs: cached"; return; fi
  local mod
  mod=$(go mod download -json "github.com/dapr/dapr@v$DAPR_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$dir"
  cp "$mod"/charts/dapr/crds/*.yaml "$dir/"
  chmod u+w "$dir"/*.yaml
  log "Dapr $DAPR_VERSION CRDs: copied to $dir"
}

SKAFFOLD_VERSION=2.16.1

# skaffold's go.mod has replace directives (and its release builds use a vendor folder the module zip leaves out): it
# is built as the main module from a writable copy, like daprd, resolving its modules through the proxy.
build_skaffold() {
  if version_of "$BIN/skaffold" version | grep -qx "v$SKAFFOLD_VERSION"; then log "skaffold $SKAFFOLD_VERSION: cached"; return; fi
  log "skaffold $SKAFFOLD_VERSION: building from the Go module proxy"
  local mod src
  mod=$(go mod download -json "github.com/GoogleContainerTools/skaffold/v2@v$SKAFFOLD_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  src="$TOOLS_DIR/src/skaffold-$SKAFFOLD_VERSION"
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$mod" "$src"; chmod -R u+w "$src"
  CGO_ENABLED=0 GOFLAGS=-mod=mod go_build_with_progress "$src" ./cmd/skaffold "$BIN/skaffold.new" -trimpath \
    -ldflags "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=v$SKAFFOLD_VERSION"
  mv "$BIN/skaffold.new" "$BIN/skaffold"
  rm -rf "$src"
  log "skaffold $SKAFFOLD_VERSION: built"
}

build_cluster_toolchain() {
  build_kubernetes
  # The sidecar injector is the mutating webhook that adds daprd to pods; Sentry (built above) signs its certificate.
  build_dapr_service injector
  fetch_dapr_crds
  # The cluster test runs `skaffold deploy` of skaffold.yaml with prebuilt image tags (no container engine here).
  build_skaffold
}
