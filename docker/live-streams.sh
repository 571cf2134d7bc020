# Streams that are live when SIGTERM comes: sourced by docker/test-images.sh and k8s/play-test.sh.
#
# start_streams DIR N MAX_TOKENS URL [CURL_ARGS…]: N streamed completions in the background, each
#   written to DIR/stream-I.txt; returns once every one has its first token (or after 10 s). The
#   caller waits for them (`wait`) after the stop.
# streams_done DIR N: how many of them ended with `data: [DONE]`.
start_streams() {
  local dir=$1 n=$2 max=$3 url=$4 i started
  shift 4
  for i in $(seq 1 "$n"); do
    curl -sN "$url/v1/completions" "$@" -H 'Content-Type: application/json' \
      -d "{\"prompt\":\"KING:\",\"max_tokens\":$max,\"temperature\":1,\"seed\":$i,\"stream\":true}" >"$dir/stream-$i.txt" &
  done
  for _ in $(seq 1 100); do
    started=0
    for i in $(seq 1 "$n"); do grep -q '^data: {' "$dir/stream-$i.txt" 2>/dev/null && started=$((started + 1)); done
    [ "$started" -eq "$n" ] && break
    sleep 0.1
  done
}

streams_done() {
  local dir=$1 n=$2 i done=0
  for i in $(seq 1 "$n"); do tail -3 "$dir/stream-$i.txt" | grep -q '^data: \[DONE\]' && done=$((done + 1)); done
  echo "$done"
}
