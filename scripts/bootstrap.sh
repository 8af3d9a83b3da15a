#!/usr/bin/env bash
# Builds and caches the pinned toolchain (daprd, Dapr Sentry, k6, helm) from the Go module proxy, and installs the
# local edge's HAProxy from Debian (scripts/haproxy.sh).
# `--cluster` also builds the local Kubernetes control plane (k8s/toolchain/build.sh: etcd, kube-apiserver,
# kube-controller-manager, kubectl, Dapr's sidecar injector and CRDs) for `npm run cluster` and its test.
# Idempotent: a cached binary whose version matches the pin is reused.
set -euo pipefail

WITH_CLUSTER=false
for arg in "$@"; do
  case "$arg" in
    --cluster) WITH_CLUSTER=true ;;
    *) printf 'usage: %s [--cluster]\n' "$0" >&2; exit 2 ;;
  esac
done

# 1.18.2 and 1.18.3 need durabletask-go versions the Go module proxy refuses (403); 1.18.1 builds.
DAPR_VERSION=1.18.1
K6_VERSION=1.8.1
HELM_VERSION=3.22.0
# daprd is built with only the components this project uses: the full set compiles every cloud SDK.
DAPR_COMPONENTS=(state_redis state_in-memory pubsub_redis pubsub_in-memory nameresolution_sqlite nameresolution_mdns
  nameresolution_kubernetes secretstores_local_file secretstores_local_env secretstores_kubernetes lock_redis)

TOOLS_DIR=${FLASH_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flash-sale/tools}
BIN="$TOOLS_DIR/bin"
mkdir -p "$BIN"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  log "Go is not installed (needed to build daprd $DAPR_VERSION, k6 and helm from the Go module proxy)."
  log "Install Go >= 1.26.6 (https://go.dev/doc/install) and run this again."
  exit 1
fi

# version_of BIN ARGS...: prints the tool's own version string, or nothing
version_of() { [ -x "$1" ] && "$@" 2>/dev/null | head -n 5 || true; }

# go_build_with_progress DIR PKG OUT [go build flags...]: prints a line every 15 s with the count of compiled packages
go_build_with_progress() {
  local dir=$1 pkg=$2 out=$3; shift 3
  local total count=0 last
  log "resolving the dependencies of $pkg (downloads modules on the first run)..."
  total=$( (cd "$dir" && go list -deps "$@" "$pkg") | wc -l)
  log "compiling about $total packages; the first build takes a while, later ones use Go's build cache"
  last=$SECONDS
  (cd "$dir" && go build -v -o "$out" "$@" "$pkg") 2>&1 | while IFS= read -r line; do
    case "$line" in
      *.go:*|go:\ *|\#*) printf '%s\n' "$line" >&2 ;;
      *) count=$((count + 1)) ;;
    esac
    if (( SECONDS - last >= 15 )); then last=$SECONDS; log "  $pkg: $count/$total packages compiled (${SECONDS}s)"; fi
  done
  [ "${PIPESTATUS[0]}" -eq 0 ] && [ -x "$out" ]
}

# dapr_source: a writable copy of github.com/dapr/dapr at the pinned version (its go.mod has replace directives, so it
# must be the main module to build); prints its path.
dapr_source() {
  local mod src
  mod=$(go mod download -json "github.com/dapr/dapr@v$DAPR_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  src="$TOOLS_DIR/src/dapr-$DAPR_VERSION"
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$mod" "$src"; chmod -R u+w "$src"
  echo "$src"
}

# build_dapr_service NAME: a Dapr control-plane binary (./cmd/NAME) at the pinned version. These have no --version:
# a marker written after the build says which version it is.
build_dapr_service() {
  local name=$1
  if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.version" 2>/dev/null)" = "$DAPR_VERSION" ]; then log "$name $DAPR_VERSION: cached"; return; fi
  log "$name $DAPR_VERSION: building from the Go module proxy"
  local src
  src=$(dapr_source)
  CGO_ENABLED=0 go_build_with_progress "$src" "./cmd/$name" "$BIN/$name.new" -trimpath \
    -ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION"
  mv "$BIN/$name.new" "$BIN/$name"
  echo "$DAPR_VERSION" > "$BIN/$name.version"
  rm -rf "$src"
  log "$name $DAPR_VERSION: built"
}

build_daprd() {
  if version_of "$BIN/daprd" --version | grep -qx "$DAPR_VERSION"; then log "daprd $DAPR_VERSION: cached"; return; fi
  log "daprd $DAPR_VERSION: building from the Go module proxy"
  local src
  src=$(dapr_source)
  local keep f name
  keep=" ${DAPR_COMPONENTS[*]} "
  for f in "$src"/cmd/daprd/components/*.go; do
    name=$(basename "$f" .go)
    case "$name" in zz_notag|*_test) continue ;; esac
    [[ "$keep" == *" $name "* ]] || rm -f "$f"
  done
  CGO_ENABLED=0 go_build_with_progress "$src" ./cmd/daprd "$BIN/daprd.new" -trimpath -tags allcomponents \
    -ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION"
  mv "$BIN/daprd.new" "$BIN/daprd"
  rm -rf "$src"
  log "daprd $DAPR_VERSION: built"
}

# install_module NAME VERSION MODULE_PKG LDFLAGS_FN BUILD_MARK VERSION_CMD...: `go get` into a throwaway module, then
# build with the ldflags LDFLAGS_FN prints ('-': none). Cached when the binary prints the version and, unless BUILD_MARK
# is '-', the marker NAME.version says "VERSION BUILD_MARK" (-trimpath keeps ldflags out of the build info); a new mark
# rebuilds the binary once.
install_module() {
  local name=$1 version=$2 pkg=$3 ldflags_fn=$4 mark=$5; shift 5
  if version_of "$BIN/$name" "$@" | grep -q "v$version" \
    && { [ "$mark" = - ] || [ "$(cat "$BIN/$name.version" 2>/dev/null)" = "$version $mark" ]; }; then
    log "$name $version: cached"; return
  fi
  log "$name $version: building from the Go module proxy"
  local ldflags=""
  [ "$ldflags_fn" = - ] || ldflags=$("$ldflags_fn")
  local tmp; tmp=$(mktemp -d)
  local out
  if ! out=$(cd "$tmp" && go mod init bootstrap 2>&1 && go get "$pkg@v$version" 2>&1); then
    printf '%s\n' "$out" >&2; exit 1
  fi
  CGO_ENABLED=0 GOFLAGS=-mod=mod go_build_with_progress "$tmp" "$pkg" "$BIN/$name" -trimpath -ldflags "$ldflags"
  [ "$mark" = - ] || echo "$version $mark" > "$BIN/$name.version"
  rm -rf "$tmp"
  log "$name $version: built"
}

# helm's ldflags as its Makefile sets them: its version, and the Kubernetes version `helm template` and `helm lint`
# assume without a cluster (1.<client-go minor>; unset, helm believes it is 1.20 and charts needing more fail).
helm_ldflags() {
  local gomod minor
  gomod=$(go mod download -json "helm.sh/helm/v3@v$HELM_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  minor=$(sed -n 's/^\tk8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")
  local x
  for x in pkg/chartutil pkg/lint/rules; do
    printf -- '-X helm.sh/helm/v3/%s.k8sVersionMajor=1 -X helm.sh/helm/v3/%s.k8sVersionMinor=%s ' "$x" "$x" "$minor"
  done
  printf -- '-X helm.sh/helm/v3/internal/version.version=v%s' "$HELM_VERSION"
}

start=$SECONDS
# The local edge (HAProxy): from Debian, not built.
bash "$(dirname "$0")/haproxy.sh"
build_daprd
build_dapr_service sentry
install_module k6 "$K6_VERSION" go.k6.io/k6 - - version
install_module helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm helm_ldflags with-kube-version version --short
if $WITH_CLUSTER; then
  # shellcheck source=../k8s/toolchain/build.sh
  source "$(dirname "$0")/../k8s/toolchain/build.sh"
  build_cluster_toolchain
fi
log "toolchain ready in $((SECONDS - start))s: $BIN"
echo "$BIN"
