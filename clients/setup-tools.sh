#!/usr/bin/env bash
# Installs what the TypeScript and Go clients and the protobuf checks need, and nothing that is
# already there: Debian's Go toolchain and grpc-go packages (apt-get, only when one is missing;
# then their build cache is warmed), and `npm ci` in clients/tools (buf, protoc-gen-es, and
# Meta's Node.js SDK for the Conversions API endpoint's tests) and
# clients/typescript, only when node_modules does not match package-lock.json. Safe to run
# again and again.
#
#   clients/setup-tools.sh [all|node|go]      (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian 12's Go 1.19 and grpc-go 1.33; the client builds in GOPATH mode against
# /usr/share/gocode, because no Go module proxy is reachable.
GO_PACKAGES=(
  golang-go
  protoc-gen-go
  protoc-gen-go-grpc
  golang-google-grpc-dev
  golang-google-protobuf-dev
  golang-google-genproto-dev
  golang-github-golang-protobuf-1-5-dev
)
NODE_DIRS=(clients/tools clients/typescript)

install_go() {
  local missing=() package
  for package in "${GO_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  echo "setup-tools: apt-get install ${missing[*]}"
  "${sudo[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Compile what the Go client imports once (a cold build of grpc-go takes about half a minute on
# two cores; cached, a second), so that the Go tests' own builds stay short.
warm_go() {
  GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= go build \
    google.golang.org/genproto/googleapis/rpc/errdetails \
    google.golang.org/grpc google.golang.org/grpc/codes google.golang.org/grpc/metadata \
    google.golang.org/grpc/status google.golang.org/protobuf/proto \
    google.golang.org/protobuf/reflect/protoreflect google.golang.org/protobuf/runtime/protoimpl \
    google.golang.org/protobuf/types/known/durationpb \
    google.golang.org/protobuf/types/known/fieldmaskpb \
    google.golang.org/protobuf/types/known/structpb \
    google.golang.org/protobuf/types/known/timestamppb \
    testing
}

# node_modules is current when the hash of package-lock.json it was installed from matches.
install_node() {
  local dir want stamp
  for dir in "${NODE_DIRS[@]}"; do
    stamp="$dir/node_modules/.tenaz-lock.sha256"
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
      continue
    fi
    echo "setup-tools: npm ci in $dir"
    (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  done
}

case "${1:-all}" in
  all) install_go; warm_go; install_node ;;
  node) install_node ;;
  go) install_go; warm_go ;;
  *) echo "usage: $0 [all|node|go]" >&2; exit 2 ;;
esac
