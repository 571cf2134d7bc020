#!/usr/bin/env bash
# Resident memory of the packaged server after bursts of off-loop work (docs/performance.md
# "Off-loop work returns its memory"): idle, after 64 routed choices of ~1,000 tokens
# (8 requests of n = 8, 900 prompt + 100 generated tokens, return_routing), and after 6 prompt
# scorings (echo + logprobs, 500 tokens each).
#   bash docs/measurements/offloop-rss.sh [app dir (target/quarkus-app)] [port (8091)]
set -euo pipefail
APP=${1:-target/quarkus-app}
PORT=${2:-8091}
TEXT=${MOA_SHARED_DIR:-../shared}/data/tinyshakespeare.txt
java -Dquarkus.http.port=$PORT -Dmoa.warm-up-requests=0 -jar "$APP/quarkus-run.jar" > /tmp/offloop-rss.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
until curl -sf localhost:$PORT/q/health/ready > /dev/null; do sleep 0.2; done
rss() { awk '/VmRSS/ {printf "%d", $2 / 1024}' /proc/$PID/status; }
routed() { # $1: which slice of the text, $2: n
  python3 -c "import json,sys; t=open('$TEXT').read(); i=int(sys.argv[1]); print(json.dumps({'prompt': t[i*2000:i*2000+900], \
'max_tokens': 100, 'n': int(sys.argv[2]), 'temperature': 0.8, 'seed': i, 'return_routing': True}))" "$1" "$2" |
    curl -s -o /dev/null -w '%{http_code}\n' localhost:$PORT/v1/completions -H 'Content-Type: application/json' -d @-
}
curl -s -o /dev/null localhost:$PORT/v1/completions -H 'Content-Type: application/json' -d '{"prompt": "ROMEO:", "max_tokens": 100}'
sleep 0.5
IDLE=$(rss)
for i in 0 1 2 3 4 5 6 7; do routed $i 8 & done | sort | uniq -c
sleep 1
ROUTED=$(rss)
for i in 0 1 2 3 4 5; do
  python3 -c "import json,sys; t=open('$TEXT').read(); i=int(sys.argv[1]); print(json.dumps({'prompt': t[i*1000:i*1000+500], \
'max_tokens': 0, 'echo': True, 'logprobs': 1}))" "$i" |
    curl -s -o /dev/null -w '%{http_code}\n' localhost:$PORT/v1/completions -H 'Content-Type: application/json' -d @-
done | sort | uniq -c
sleep 1
echo "offloop_rss idle_mib=$IDLE after_64_routed_choices_mib=$ROUTED after_prompt_scoring_mib=$(rss)"
