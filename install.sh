#!/bin/sh
# Build k3rs from this source tree, install it, and start the server.
#   sudo ./install.sh            # install and start (systemd unit if systemd runs, else in the background)
#   INSTALL_K3RS_SKIP_START=true sudo ./install.sh   # install only
# Server flags can be given as arguments: sudo ./install.sh --tls-san my.host
set -eu
cd "$(dirname "$0")"

info() { echo "[k3rs] $*"; }
fatal() { echo "[k3rs] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fatal "run as root (sudo ./install.sh)"

if command -v apt-get >/dev/null 2>&1; then
  info "installing build tools (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # containerd, runc, the CNI plugins and iptables are the node's runtime parts.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends build-essential ca-certificates curl \
    containerd runc containernetworking-plugins iptables conntrack >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] || {
    info "installing the Rust toolchain (rustup)"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
  }
  PATH="$HOME/.cargo/bin:$PATH"
fi

info "building k3rs (release)"
cargo build --release --locked --bin k3rs
install -m 0755 target/release/k3rs /usr/local/bin/k3rs
info "installed /usr/local/bin/k3rs ($(/usr/local/bin/k3rs --version))"

if [ "${INSTALL_K3RS_SKIP_START:-false}" = true ]; then
  exit 0
fi

if [ -d /run/systemd/system ]; then
  install -m 0644 systemd/k3rs.service /etc/systemd/system/k3rs.service
  if [ $# -gt 0 ]; then
    printf 'K3RS_EXTRA_ARGS="%s"\n' "$*" > /etc/default/k3rs
    sed -i 's|^ExecStart=.*|ExecStart=/usr/local/bin/k3rs server $K3RS_EXTRA_ARGS|' /etc/systemd/system/k3rs.service
  fi
  systemctl daemon-reload
  systemctl enable --now k3rs
  info "started the k3rs systemd service"
else
  mkdir -p /var/log
  nohup /usr/local/bin/k3rs server "$@" >>/var/log/k3rs.log 2>&1 &
  info "started k3rs server in the background (pid $!, log /var/log/k3rs.log)"
fi

i=0
while [ ! -s /etc/k3rs/k3rs.yaml ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s /etc/k3rs/k3rs.yaml ] || fatal "the server did not write /etc/k3rs/k3rs.yaml; see the log"
info "ready: KUBECONFIG=/etc/k3rs/k3rs.yaml kubectl get namespaces   (or: k3rs kubectl get namespaces)"
