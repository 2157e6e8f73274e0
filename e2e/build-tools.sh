#!/usr/bin/env bash
# Build the offline end-to-end toolchain (Pulumi CLI, Python language host,
# Kubernetes provider, control plane, kwok) from the Go module proxy into a
# cache directory outside the repository. Safe to re-run: finished tools are
# skipped, so a warm run only checks that every binary is present.
#
# Usage: e2e/build-tools.sh [--print-bin | STEP...]
#   --print-bin   print the bin directory and exit (builds nothing)
#   STEP...       build only these of: provider pulumi langhost kube kwok
#
# Environment:
#   VAPORA_E2E_CACHE   cache root (default: $HOME/.cache/vapora-infra-e2e)
set -euo pipefail

# Versions. The Go module proxy reachable here serves only some versions of
# the Pulumi modules, so two of these differ from the Python packages the
# project pins (pulumi 3.272.0, pulumi-kubernetes 4.34.2); e2e/README.md
# explains the choice.
PULUMI_VERSION=v3.274.0
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_VERSION=4.0.0-20260115033456-f47bc2d6f199
KUBE_VERSION=v1.30.14
KUBE_STAGING_VERSION=v0.30.14
KWOK_VERSION=v0.8.0

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${VAPORA_E2E_CACHE:-$HOME/.cache/vapora-infra-e2e}
KEY="pulumi-${PULUMI_VERSION}_k8sprov-${K8S_PROVIDER_VERSION}_kube-${KUBE_VERSION}_kwok-${KWOK_VERSION}"
BIN_DIR="$CACHE_ROOT/$KEY/bin"
TIMES_FILE="$CACHE_ROOT/$KEY/build-times.tsv"

if [[ "${1:-}" == "--print-bin" ]]; then
    echo "$BIN_DIR"
    exit 0
fi

export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -mod=mod"
export CGO_ENABLED=0

NICE=(nice -n 10)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vapora-e2e-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$BIN_DIR"

log() { printf '[build-tools] %s\n' "$*" >&2; }

# have NAME...: true when every named binary is already in the cache.
have() {
    local name
    for name in "$@"; do
        [[ -x "$BIN_DIR/$name" ]] || return 1
    done
}

# step NAME FUNCTION BINARY...: run FUNCTION unless its binaries exist, and
# record its wall time.
step() {
    local name=$1 fn=$2 start end
    shift 2
    if have "$@"; then
        log "$name: cached"
        return
    fi
    log "$name: building"
    start=$(date +%s)
    "$fn"
    end=$(date +%s)
    printf '%s\t%ss\n' "$name" "$((end - start))" >>"$TIMES_FILE"
    log "$name: done in $((end - start))s"
}

# gomod_of MODULE@VERSION: path of that module's real go.mod in the cache.
gomod_of() {
    (cd "$WORK" && go mod download -json "$1") |
        sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}

# dir_of MODULE@VERSION: path of the extracted module source.
dir_of() {
    (cd "$WORK" && go mod download -json "$1") |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# remote_replaces GOMOD: the replace directives of GOMOD that point at
# another module version (local "=> ./dir" replacements cannot leave the
# repository they were written for).
remote_replaces() {
    awk '
        /^replace[[:space:]]*\($/ { block = 1; next }
        block && /^\)/ { block = 0; next }
        {
            line = $0
            if (!block && line !~ /^replace[[:space:]]/) next
            sub(/^replace[[:space:]]+/, "", line)
            split(line, side, "=>")
            target = side[2]
            gsub(/^[[:space:]]+|[[:space:]]+$/, "", target)
            if (target == "" || target ~ /^(\.|\/)/) next
            print "replace " line
        }
    ' "$1"
}

# new_wrapper DIR MODULE@VERSION...: a throwaway module that requires the
# given versions and carries their non-local replace directives.
new_wrapper() {
    local dir=$1 req gomod
    shift
    mkdir -p "$dir"
    printf 'module vapora.local/e2e-build\n\ngo 1.26\n\n' >"$dir/go.mod"
    for req in "$@"; do
        printf 'require %s %s\n' "${req%@*}" "${req#*@}" >>"$dir/go.mod"
    done
    for req in "$@"; do
        gomod=$(gomod_of "$req")
        remote_replaces "$gomod" >>"$dir/go.mod"
    done
    # A later duplicate replace of the same module is an error; keep the first.
    awk '!/^replace/ || !seen[$2]++' "$dir/go.mod" >"$dir/go.mod.tmp"
    mv "$dir/go.mod.tmp" "$dir/go.mod"
}

build_pulumi() {
    local dir="$WORK/pulumi"
    new_wrapper "$dir" \
        "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" \
        "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
    (cd "$dir" && "${NICE[@]}" go build -trimpath -o "$dir/out/pulumi" \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    install -m 0755 "$dir/out/pulumi" "$BIN_DIR/pulumi"
}

# The upstream Python language host module is not served by the reachable
# proxy, so e2e/langhost is a small host of our own built against the same
# Pulumi SDK. The exec script it runs ships in the SDK module.
build_langhost() {
    local dir="$WORK/langhost" sdk_dir
    cp -r "$E2E_DIR/langhost" "$dir"
    # The SDK's own non-local replaces must hold for the host as well.
    remote_replaces "$(gomod_of "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION")" |
        sed 's/^replace //; s/ => /=/; s/ \(v[^ ]*\)$/@\1/' |
        while read -r edit; do
            (cd "$dir" && go mod edit -replace "$edit")
        done
    (cd "$dir" && go mod edit -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" &&
        "${NICE[@]}" go build -trimpath -o "$dir/out/pulumi-language-python" \
            -ldflags "-s -w -X main.version=$PULUMI_VERSION" .)
    sdk_dir=$(dir_of "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION")
    install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" \
        "$BIN_DIR/pulumi-language-python-exec"
    install -m 0755 "$dir/out/pulumi-language-python" "$BIN_DIR/pulumi-language-python"
}

build_provider() {
    local src dir="$WORK/provider"
    src=$(dir_of "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION")
    cp -r "$src" "$dir"
    chmod -R u+w "$dir"
    # The module zip has no ../sdk to replace the SDK with; use its release.
    (cd "$dir" && go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4)
    # Embedded schema and Terraform mapping are generated, not shipped.
    (cd "$dir/cmd/pulumi-resource-kubernetes" &&
        VERSION=$K8S_PROVIDER_VERSION "${NICE[@]}" go run generate.go)
    (cd "$dir" && "${NICE[@]}" go build -trimpath -o "$dir/out/pulumi-resource-kubernetes" \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
        ./cmd/pulumi-resource-kubernetes)
    install -m 0755 "$dir/out/pulumi-resource-kubernetes" "$BIN_DIR/pulumi-resource-kubernetes"
}

build_kube() {
    local dir="$WORK/kube" gomod minor ldflags pkg
    gomod=$(gomod_of "k8s.io/kubernetes@$KUBE_VERSION")
    new_wrapper "$dir" "k8s.io/kubernetes@$KUBE_VERSION"
    # Each staging module (k8s.io/X => ./staging/src/k8s.io/X) comes from
    # its own v0.<minor> release instead.
    # The proxy does not serve the sample-* modules; nothing built here
    # imports them, so an empty local module stands in for those.
    awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$gomod" |
        while read -r staging; do
            if (cd "$WORK" && go mod download "$staging@$KUBE_STAGING_VERSION") 2>/dev/null; then
                printf 'replace %s => %s %s\n' "$staging" "$staging" "$KUBE_STAGING_VERSION"
            else
                mkdir -p "$dir/stub/$staging"
                printf 'module %s\n\ngo 1.22\n' "$staging" >"$dir/stub/$staging/go.mod"
                printf 'replace %s => ./stub/%s\n' "$staging" "$staging"
            fi
        done >>"$dir/go.mod"
    minor=${KUBE_VERSION#v1.}
    minor=${minor%%.*}
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1"
        ldflags+=" -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
        ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    (cd "$dir" && "${NICE[@]}" go build -trimpath -o "$dir/out/" -ldflags "$ldflags" \
        k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler \
        k8s.io/kubernetes/cmd/kubectl)
    install -m 0755 "$dir"/out/* "$BIN_DIR/"
}

build_kwok() {
    local dir="$WORK/kwok"
    new_wrapper "$dir" "sigs.k8s.io/kwok@$KWOK_VERSION"
    (cd "$dir" && "${NICE[@]}" go build -trimpath -o "$dir/out/" \
        -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
        sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl)
    install -m 0755 "$dir"/out/* "$BIN_DIR/"
}

# etcd comes from Debian; it is the one tool outside the cache directory.
ensure_etcd() {
    if command -v etcd >/dev/null; then
        return
    fi
    log "etcd: installing Debian's etcd-server"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
}

main() {
    local start end only=("$@")
    start=$(date +%s)
    ensure_etcd
    run_step() {
        if [[ ${#only[@]} -eq 0 || " ${only[*]} " == *" $1 "* ]]; then
            step "$@"
        fi
    }
    run_step kube build_kube kube-apiserver kube-controller-manager kube-scheduler kubectl
    run_step kwok build_kwok kwok kwokctl
    run_step provider build_provider pulumi-resource-kubernetes
    run_step langhost build_langhost pulumi-language-python pulumi-language-python-exec
    run_step pulumi build_pulumi pulumi
    end=$(date +%s)
    log "tools in $BIN_DIR ($((end - start))s)"
}

main "$@"
