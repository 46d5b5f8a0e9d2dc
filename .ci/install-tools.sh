#!/usr/bin/env bash
# Installs the real programs the tests run, from Debian's archive:
#   - bookworm: prometheus 2.42, prometheus-alertmanager 0.25 (amtool), prometheus-node-exporter 1.5,
#     and the Postgres, Redis and blackbox exporters (the live binaries of the end-to-end tests);
#   - trixie's promtool 2.53, extracted to /usr/local/bin/promtool: bookworm's promtool is built
#     without Kubernetes service discovery and rejects kubernetes_sd_configs, which the prod
#     config uses. promtool 2.53 is a static Go binary that only needs libc (>= 2.34).
# Needs root (apt-get). Safe to run twice.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  prometheus prometheus-alertmanager prometheus-node-exporter \
  prometheus-postgres-exporter prometheus-redis-exporter prometheus-blackbox-exporter >/dev/null
# The packages start services on systems with systemd; the tests start their own processes.
for service in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-postgres-exporter \
               prometheus-redis-exporter prometheus-blackbox-exporter; do
  $SUDO systemctl stop "$service" 2>/dev/null || true
  $SUDO systemctl disable "$service" 2>/dev/null || true
done

if ! /usr/local/bin/promtool --version 2>/dev/null | grep -q "version 2.53"; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" > "$work/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
            -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" download promtool >/dev/null)
  dpkg-deb -x "$work"/promtool_*.deb "$work/x"
  $SUDO install -m 0755 "$work/x/usr/bin/promtool" /usr/local/bin/promtool
fi

echo "installed: $(/usr/local/bin/promtool --version | head -1)"
echo "installed: $(/usr/bin/promtool --version | head -1) (/usr/bin/promtool)"
echo "installed: $(amtool --version 2>&1 | head -1)"
echo "installed: $(prometheus-node-exporter --version 2>&1 | head -1)"
