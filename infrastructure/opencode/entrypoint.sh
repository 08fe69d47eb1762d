#!/bin/sh
# Starts a headless `opencode serve` set up for unattended runs; the model comes from OPENCODE_MODEL.
# Nothing outside a session's directory (external_directory denied) and no questions to a human;
# the orchestrator sends each session's own rules (its ceiling) when it creates it.
set -eu

model="${OPENCODE_MODEL:-}"
small_model="${OPENCODE_SMALL_MODEL:-$model}"
for m in "$model" "$small_model"; do
  # provider/model, and nothing that would need escaping inside the JSON below.
  if ! printf '%s' "$m" | grep -Eq '^[A-Za-z0-9._-]+/[A-Za-z0-9._:@/-]+$'; then
    echo "entrypoint: OPENCODE_MODEL (and OPENCODE_SMALL_MODEL) must look like provider/model, got '$m'" >&2
    exit 64
  fi
done

# OPENCODE_SNAPSHOTS (default false): OpenCode's per-step filesystem snapshots (see the README).
case "${OPENCODE_SNAPSHOTS:-false}" in
  true) snapshot=true ;;
  false) snapshot=false ;;
  *) echo "entrypoint: OPENCODE_SNAPSHOTS must be true or false, got '${OPENCODE_SNAPSHOTS}'" >&2; exit 64 ;;
esac
OPENCODE_CONFIG_CONTENT=$(printf '{"autoupdate":false,"share":"disabled","snapshot":%s,"permission":{"external_directory":"deny","question":"deny"},"model":"%s","small_model":"%s"}' "$snapshot" "$model" "$small_model")
export OPENCODE_CONFIG_CONTENT
export OPENCODE_DISABLE_MODELS_FETCH=1
# An empty password would still be "set"; no password means no auth (keep the port private then).
if [ -z "${OPENCODE_SERVER_PASSWORD:-}" ]; then unset OPENCODE_SERVER_PASSWORD; fi

exec opencode serve --port "${OPENCODE_PORT:-4096}" --hostname 0.0.0.0 "$@"
