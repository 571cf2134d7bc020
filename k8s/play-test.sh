#!/usr/bin/env bash
# Runs what the Kubernetes manifests describe: renders k8s/overlays/quickstart and k8s/overlays/cpu
# with `kubectl kustomize` and plays each with `podman kube play` against the JVM image that
# docker/test-images.sh builds (localhost/moa-serve:jvm). Each pod must become ready on its
# readiness probe's own path and port, answer a streamed completion through its published port,
# have read its ConfigMap (and, for cpu, its API-keys Secret), run as the non-root user with a
# read-only root and a writable /tmp, and drain live streams to [DONE] on SIGTERM (as the kubelet
# sends it, within the manifest's terminationGracePeriodSeconds) before `podman kube down`.
# The only changes made for the test, as a kustomize overlay of each overlay: one replica, a
# hostPort on 127.0.0.1 (podman 4.3 has no --publish for kube play) and one ConfigMap value
# (MOA_MAX_BATCH_SIZE=24) whose effect the log shows. Objects podman cannot run (Service, PDB,
# HPA, ServiceMonitor) are left out; the ConfigMap goes in with --configmap.
#
# Skipped, with a message, where podman or kubectl cannot be installed or the image is missing.
#
#   bash k8s/play-test.sh        (after bash docker/test-images.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/live-streams.sh

skip() { echo "k8s-play: skipped: $*"; exit 0; }
fail() { echo "k8s-play: FAILED: $*" >&2; exit 1; }
step() { echo "k8s-play: $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman with runc)"
command -v podman >/dev/null && command -v runc >/dev/null || skip "no podman/runc (docker/test-images.sh installs them)"
if ! command -v kubectl >/dev/null; then
  command -v apt-get >/dev/null || skip "no kubectl and no apt-get to install it"
  step "installing kubectl (Debian's kubernetes-client)"
  { apt-get update -q && apt-get install -y -q kubernetes-client; } >/tmp/k8s-play-apt.log 2>&1 \
    || skip "kubectl cannot be installed (see /tmp/k8s-play-apt.log)"
fi
kubectl kustomize --help >/dev/null 2>&1 || skip "this kubectl has no kustomize"

work=$(mktemp -d)
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
PODMAN_FLAGS=(--runtime runc --cgroup-manager cgroupfs)
p() { podman "${PODMAN_FLAGS[@]}" "$@"; }
p image exists localhost/moa-serve:jvm || skip "no image localhost/moa-serve:jvm: run bash docker/test-images.sh first"
played=""
cleanup() {
  [ -z "$played" ] || p kube down "$played" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

secs() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(secs)" 'BEGIN { printf "%.1f", b - a }'; }

# the rendered documents, one file each, named by kind (a kind given twice gets a number)
split_docs() {
  awk -v dir="$2" '
    function flush() { if (doc != "") { n[kind]++; f = dir "/" kind (n[kind] > 1 ? n[kind] : "") ".yaml"; printf "%s", doc > f; close(f) } doc = ""; kind = "" }
    /^---$/ { flush(); next }
    /^kind: / { kind = $2 }
    { doc = doc $0 "\n" }
    END { flush() }' "$1"
}

# play_overlay NAME OVERLAY [SECRET_KEY]: plays it, checks it, brings it down
play_overlay() {
  local name=$1 overlay=$2 key=${3:-}
  local dir="$work/$name" port
  port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
  mkdir -p "$dir/overlay" "$dir/docs"
  local base
  base=$(realpath --relative-to="$dir/overlay" "$overlay") # kustomize takes no absolute roots
  cat >"$dir/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $base
replicas: # one pod: every replica would ask for the same hostPort
  - name: moa-serve
    count: 1
patches:
  - target: {kind: Deployment, name: moa-serve}
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/ports/0/hostPort
        value: $port
      - op: add
        path: /spec/template/spec/containers/0/ports/0/hostIP
        value: 127.0.0.1
  - target: {kind: ConfigMap, name: moa-serve}
    patch: |-
      - op: replace
        path: /data/MOA_MAX_BATCH_SIZE
        value: "24"
EOF
  kubectl kustomize "$dir/overlay" >"$dir/rendered.yaml" 2>"$dir/kustomize.err" || { cat "$dir/kustomize.err"; fail "$name: kubectl kustomize"; }
  split_docs "$dir/rendered.yaml" "$dir/docs"
  [ -f "$dir/docs/Deployment.yaml" ] && [ -f "$dir/docs/ConfigMap.yaml" ] || fail "$name: no Deployment or ConfigMap rendered"
  # the readiness probe as the manifest declares it: its path and its port (a name or a number)
  local ready_path ready_port
  ready_path=$(awk '/readinessProbe:/ { r = 1 } r && /path:/ { print $2; exit }' "$dir/docs/Deployment.yaml")
  ready_port=$(awk '/readinessProbe:/ { r = 1 } r && /port:/ { print $2; exit }' "$dir/docs/Deployment.yaml")
  [ -n "$ready_path" ] || fail "$name: the Deployment has no readiness probe"
  grep -q "name: $ready_port\$\|containerPort: $ready_port\$" "$dir/docs/Deployment.yaml" \
    || fail "$name: the readiness probe's port '$ready_port' is not a port of the container"
  {
    cat "$dir/docs/Deployment.yaml"
    if [ -n "$key" ]; then
      echo "---"
      cat <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: moa-serve-api-keys
type: Opaque
data:
  api-keys: $(printf '%s\n' "$key" | base64 -w0)
EOF
    fi
  } >"$dir/play.yaml"

  step "$name: podman kube play (Deployment$([ -n "$key" ] && echo ", Secret"), ConfigMap by --configmap)"
  local t
  t=$(secs)
  played="$dir/play.yaml"
  p kube play --configmap "$dir/docs/ConfigMap.yaml" "$dir/play.yaml" >"$dir/play.log" 2>&1 || { cat "$dir/play.log"; fail "$name: kube play"; }
  local ctr
  ctr=$(p ps -a --filter "label=app.kubernetes.io/name=moa-serve" --format '{{.Names}}' | grep -v infra | head -1)
  [ -n "$ctr" ] || ctr=$(p ps -a --format '{{.Names}}' | grep 'moa-serve' | grep -v infra | head -1)
  [ -n "$ctr" ] || { p ps -a; fail "$name: no container from the play"; }
  local url="http://127.0.0.1:$port" ready=0
  for _ in $(seq 1 600); do
    if curl -sf "$url$ready_path" >/dev/null 2>&1; then ready=1; break; fi
    [ "$(p inspect -f '{{.State.Running}}' "$ctr")" = true ] || break
    sleep 0.1
  done
  [ $ready -eq 1 ] || { p logs "$ctr" 2>&1 | tail -30; fail "$name: never ready on $ready_path"; }
  local ready_s
  ready_s=$(since "$t")
  local logs
  logs=$(p logs "$ctr" 2>&1)
  grep -q '(24 slots)' <<<"$logs" || { echo "$logs" | tail -20; fail "$name: the ConfigMap's MOA_MAX_BATCH_SIZE was not read"; }
  [ "$(p exec "$ctr" id -u)" = 10001 ] || fail "$name: not running as uid 10001"
  if p exec "$ctr" sh -c 'echo x > /app/written' 2>/dev/null; then fail "$name: the root filesystem is writable"; fi
  p exec "$ctr" sh -c 'echo x > /tmp/written' || fail "$name: /tmp (emptyDir) is not writable"

  local auth=()
  if [ -n "$key" ]; then
    local refused
    refused=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/completions" -H 'Content-Type: application/json' -d '{"prompt":"A","max_tokens":2}')
    [ "$refused" = 401 ] || fail "$name: a request without the Secret's key answered $refused, not 401"
    # podman 4.3 mounts a Secret's data without decoding its base64 (later versions decode it, as
    # the kubelet does): the key the server holds is the file as mounted
    local mounted
    mounted=$(p exec "$ctr" sh -c 'cat "$MOA_API_KEYS_FILE"' | head -1)
    [ "$mounted" = "$key" ] || step "$name: podman mounted the Secret's data undecoded; using the key as mounted"
    auth=(-H "Authorization: Bearer $mounted")
  fi
  local stream
  stream=$(curl -sN "$url/v1/completions" "${auth[@]}" -H 'Content-Type: application/json' \
    -d '{"prompt":"ROMEO:","max_tokens":16,"stream":true}')
  [ "$(grep -c '^data: {' <<<"$stream")" -ge 2 ] && tail -3 <<<"$stream" | grep -q '^data: \[DONE\]' || fail "$name: stream: $stream"

  # SIGTERM while streams run, as the kubelet sends it: to the container, which has up to
  # terminationGracePeriodSeconds to exit while the pod's network stays; then kube down removes the
  # pod. (podman 4.3's kube down alone tears the pod's network down with its infra container at
  # once, cutting every live connection even as the server drains them; the kubelet keeps the
  # sandbox until the containers have exited.)
  local streams=6
  start_streams "$dir" $streams 600 "$url" "${auth[@]}"
  local grace
  grace=$(awk '/terminationGracePeriodSeconds:/ { print $2; exit }' "$dir/docs/Deployment.yaml")
  [ -n "$grace" ] || fail "$name: the Deployment sets no terminationGracePeriodSeconds"
  t=$(secs)
  p stop -t "$grace" "$ctr" >"$dir/down.log" 2>&1 || { cat "$dir/down.log"; fail "$name: stop (SIGTERM)"; }
  local down_s
  down_s=$(since "$t")
  wait
  local stopped_logs exit_code
  stopped_logs=$(p logs "$ctr" 2>&1)
  exit_code=$(p inspect -f '{{.State.ExitCode}}' "$ctr")
  p kube down "$dir/play.yaml" >>"$dir/down.log" 2>&1 || { cat "$dir/down.log"; fail "$name: kube down"; }
  played=""
  grep -q 'drained' <<<"$stopped_logs" || { echo "$stopped_logs" | tail -20; fail "$name: no drain in the log (exit $exit_code)"; }
  [ "$exit_code" = 143 ] || [ "$exit_code" = 0 ] || fail "$name: exit code $exit_code after SIGTERM"
  local drained
  drained=$(streams_done "$dir" $streams)
  [ $drained -eq $streams ] || { for f in "$dir"/stream-*.txt; do tail -n 2 "$f"; done; echo "down in $down_s s"; cat "$dir/down.log"; fail "$name: only $drained of $streams streams ended with [DONE] after SIGTERM"; }
  echo "k8s_play overlay=$name ready_s=$ready_s configmap=read uid=10001 readonly_root=yes tmp=writable" \
    "$([ -n "$key" ] && echo "api_keys=enforced ")stream=ok drain=$drained/$streams stop_s=$down_s exit=$exit_code status=pass"
}

play_overlay quickstart k8s/overlays/quickstart
play_overlay cpu k8s/overlays/cpu "k8s-play-$(date +%s)"
