#!/usr/bin/env bash
# Checks the monitoring config with promtool, as CI runs it (no Docker engine needed):
#   promtool check config   prometheus/prometheus.yml (and the rule files it loads)
#   promtool check rules    prometheus/alerts.yml
#   promtool test rules     prometheus/alerts.test.yml (every alert: a firing and a silent case)
# promtool comes from Debian's `prometheus` package (2.42 on bookworm); when it is missing this
# script installs that package without letting apt start the Prometheus service.
# Exit status: 0 when every check passes, non-zero otherwise.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
prometheus_dir="$here/prometheus"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "check.sh: installing $* needs root (or sudo)" >&2
    return 1
  fi
}

# apt-get install of Debian packages whose postinst would start a service: in a container without
# systemd (CI, this machine) that start fails or hangs the install. A policy-rc.d that answers 101
# ("action forbidden") makes invoke-rc.d skip every start; we only remove the one we put there.
install_debian_packages() {
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    created_policy=1
  fi
  local status=0
  (
    # Package lists absent or stale (a fresh CI image): refresh them once and retry.
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; then
      as_root apt-get update -q &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
    fi
  ) || status=$?
  if [ -n "$created_policy" ]; then as_root rm -f "$policy"; fi
  # Should a start have slipped through anyway, stop it: only promtool is wanted here.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  return "$status"
}

if ! command -v promtool >/dev/null 2>&1; then
  echo "== promtool missing: installing Debian's prometheus package"
  install_debian_packages prometheus
fi
promtool --version 2>&1 | sed -n 1p

failed=0
run() {
  echo "== $*"
  if ! "$@"; then
    echo "FAILED: $*" >&2
    failed=1
  fi
}

run promtool check config "$prometheus_dir/prometheus.yml"
run promtool check rules "$prometheus_dir/alerts.yml"
# test rules resolves rule_files relative to the test file's directory.
run promtool test rules "$prometheus_dir/alerts.test.yml"

# The dashboard's queries, Grafana's variables replaced by durations, as recording rules: promtool
# then parses each one as Prometheus would (names and labels are monitoring.spec.ts's business).
dashboard_rules="$(mktemp --suffix=.yml)"
trap 'rm -f "$dashboard_rules"' EXIT
if node - "$here/grafana/dashboards/orchestrator.json" >"$dashboard_rules" <<'JS'
const dashboard = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const panels = dashboard.panels.flatMap((p) => (p.type === 'row' ? p.panels ?? [] : [p]));
const rules = panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({
    record: `dashboard:panel_${panel.id}_${target.refId}`,
    expr: target.expr.replace(/\$__(rate_interval|interval)\b/g, '1m').replace(/\$__range\b/g, '1h'),
  })),
);
if (rules.length === 0) throw new Error('no dashboard queries found');
console.log(JSON.stringify({ groups: [{ name: 'dashboard-queries', rules }] }, null, 1));
JS
then
  echo "== promtool check rules <the queries of grafana/dashboards/orchestrator.json>"
  if ! promtool check rules "$dashboard_rules"; then
    echo "FAILED: a dashboard query does not parse" >&2
    failed=1
  fi
else
  echo "FAILED: could not read the dashboard's queries" >&2
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  echo "monitoring checks FAILED" >&2
  exit 1
fi
echo "monitoring checks passed"
