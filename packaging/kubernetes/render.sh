#!/usr/bin/env bash
# Renders one shop's manifests: defaults.env, then the shop's values file, through envsubst
# into mcsync.yaml.in. Every variable must be set: a missing one is an error, not an empty
# field.
#   packaging/kubernetes/render.sh packaging/kubernetes/shops/acme-boots.env | kubectl apply -f -
#   packaging/kubernetes/render.sh --all OUT_DIR     # every shop, one file each
#   packaging/kubernetes/render.sh --backup-job packaging/kubernetes/shops/acme-boots.env
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vars=(SHOP NAMESPACE IMAGE STORAGE_CLASS STORAGE CPU_REQUEST CPU_LIMIT MEMORY_REQUEST
  MEMORY_LIMIT SHOP_NAMESPACE INGRESS_NAMESPACE MONITORING_NAMESPACE WEBHOOK_BASE_URL
  BACKUP_CLAIM)

# render VALUES_FILE [TEMPLATE]
render() {
  local template="${2:-mcsync.yaml.in}"

  (
    set -a
    # shellcheck source=/dev/null
    . "$here/defaults.env"
    # shellcheck source=/dev/null
    . "$1"
    set +a
    for v in "${vars[@]}"; do
      if [ -z "${!v:-}" ]; then
        echo "render.sh: $1 leaves $v unset" >&2
        exit 1
      fi
    done
    if ! [[ "$SHOP" =~ ^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$ ]]; then
      echo "render.sh: SHOP '$SHOP' is not a DNS label of at most 42 characters" >&2
      exit 1
    fi
    envsubst "$(printf '${%s} ' "${vars[@]}")" < "$here/$template"
  )
}

if [ "${1:-}" = "--all" ]; then
  out="${2:?usage: render.sh --all OUT_DIR}"
  mkdir -p "$out"
  for f in "$here"/shops/*.env; do
    render "$f" > "$out/$(basename "$f" .env).yaml"
    render "$f" backup-job.yaml.in > "$out/$(basename "$f" .env)-backup-job.yaml"
  done
elif [ "${1:-}" = "--backup-job" ]; then
  render "${2:?usage: render.sh --backup-job SHOP_FILE}" backup-job.yaml.in
else
  render "${1:?usage: render.sh SHOP_FILE | --all OUT_DIR}"
fi
