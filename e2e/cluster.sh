#!/usr/bin/env bash
# Start, stop or describe the local end-to-end cluster: a kwok cluster whose
# control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) runs as plain processes bound to 127.0.0.1, with fake
# nodes, pods made Running and Ready by kwok's stages (e2e/stages.yaml), and a
# small provisioner that binds PersistentVolumeClaims.
#
# Usage: e2e/cluster.sh up|down|env|status
#   up      build nothing; start the cluster from e2e/build-tools.sh's binaries
#   down    stop the provisioner and delete the cluster
#   env     print the exports that point kubectl and pulumi at the cluster
#   status  show the cluster's components and nodes
#
# Environment:
#   VAPORA_E2E_CACHE   cache root shared with build-tools.sh
#   VAPORA_E2E_STATE   cluster state directory (default: <cache root>/state)
#   VAPORA_E2E_NODES   number of fake nodes (default: 2)
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${VAPORA_E2E_CACHE:-$HOME/.cache/vapora-infra-e2e}
STATE_DIR=${VAPORA_E2E_STATE:-$CACHE_ROOT/state}
NODES=${VAPORA_E2E_NODES:-2}
CLUSTER_NAME=vapora-e2e
BIN_DIR=$("$E2E_DIR/build-tools.sh" --print-bin)
KUBECONFIG_PATH="$STATE_DIR/kubeconfig"
PROVISIONER_PID="$STATE_DIR/provisioner.pid"
PROVISIONER_LOG="$STATE_DIR/provisioner.log"

# kwokctl keeps each cluster's files (configs, logs, pids) under its workdir.
export KWOK_WORKDIR="$STATE_DIR/kwok"

log() { printf '[cluster] %s\n' "$*" >&2; }

kwokctl() { "$BIN_DIR/kwokctl" --name "$CLUSTER_NAME" "$@"; }
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

up() {
    local tool etcd_bin kube_version
    for tool in kwokctl kwok kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        if [[ ! -x "$BIN_DIR/$tool" ]]; then
            log "missing $BIN_DIR/$tool: run e2e/build-tools.sh first"
            exit 1
        fi
    done
    etcd_bin=$(command -v etcd) || {
        log "etcd is not installed: run e2e/build-tools.sh (it installs etcd-server)"
        exit 1
    }
    kube_version=$("$BIN_DIR/kube-apiserver" --version | awk '{print $2}')
    if [[ -f "$KUBECONFIG_PATH" ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
        log "already up"
        start_provisioner
        return
    fi

    mkdir -p "$STATE_DIR"
    cat >"$STATE_DIR/kwokctl.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  kubeVersion: $kube_version
  bindAddress: 127.0.0.1
  kubeApiserverBinary: $BIN_DIR/kube-apiserver
  kubeControllerManagerBinary: $BIN_DIR/kube-controller-manager
  kubeSchedulerBinary: $BIN_DIR/kube-scheduler
  kubectlBinary: $BIN_DIR/kubectl
  kwokControllerBinary: $BIN_DIR/kwok
  etcdBinary: $etcd_bin
---
EOF
    # kwok's default stages, plus one that keeps a marked release NotReady.
    cat "$E2E_DIR/stages.yaml" >>"$STATE_DIR/kwokctl.yaml"
    log "creating cluster $CLUSTER_NAME ($kube_version)"
    kwokctl create cluster --config "$STATE_DIR/kwokctl.yaml" \
        --kubeconfig "$KUBECONFIG_PATH" --wait 3m
    kwokctl scale node --replicas "$NODES"
    kubectl wait --for=condition=Ready node --all --timeout=2m >/dev/null
    start_provisioner
    log "up; kubeconfig: $KUBECONFIG_PATH"
}

start_provisioner() {
    if [[ -f "$PROVISIONER_PID" ]] && kill -0 "$(cat "$PROVISIONER_PID")" 2>/dev/null; then
        return
    fi
    # It creates the default StorageClass before it loops; wait for that so
    # claims made right after `up` get a class.
    python3 "$E2E_DIR/provisioner/provisioner.py" --once \
        --kubectl "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" \
        --root "$STATE_DIR/volumes"
    nohup python3 "$E2E_DIR/provisioner/provisioner.py" \
        --kubectl "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" \
        --root "$STATE_DIR/volumes" >>"$PROVISIONER_LOG" 2>&1 &
    echo $! >"$PROVISIONER_PID"
}

down() {
    if [[ -f "$PROVISIONER_PID" ]]; then
        kill "$(cat "$PROVISIONER_PID")" 2>/dev/null || true
        rm -f "$PROVISIONER_PID"
    fi
    if [[ -d "$KWOK_WORKDIR/clusters/$CLUSTER_NAME" ]]; then
        kwokctl delete cluster --kubeconfig "$KUBECONFIG_PATH"
    fi
    rm -rf "$KUBECONFIG_PATH" "$STATE_DIR/volumes"
    log "down"
}

env_exports() {
    printf 'export PATH=%q:"$PATH"\n' "$BIN_DIR"
    printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_PATH"
    printf 'export PULUMI_SKIP_UPDATE_CHECK=true\n'
    printf 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n'
}

status() {
    kwokctl get components || true
    kubectl get nodes -o wide
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    env) env_exports ;;
    status) status ;;
    *)
        echo "usage: $0 up|down|env|status" >&2
        exit 2
        ;;
esac
