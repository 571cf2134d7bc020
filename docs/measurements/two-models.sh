#!/usr/bin/env bash
# Two models in one server under load, against one alone, on the packaged jar (docs/performance.md
# "Several models in one server"). Run from the repository root after ./mvnw package:
#   bash docs/measurements/two-models.sh
# 1. one generator, 32 clients; 2. two generators (the shipped one and a copy), 16 clients each at once;
# 3. the same two generators as two server processes (what one model per process means on one machine);
# 4. the generator's 32 clients with an encoder's embeddings requests beside them.
set -euo pipefail
JAR=target/quarkus-app/quarkus-run.jar
PORT=${PORT:-8191}
URL=http://localhost:$PORT
TMP=$(mktemp -d)
LOAD="--requests 256 --prompt-len 32 --max-tokens 64"

serve() { # settings...
  java -Xmx1g -Dquarkus.http.port=$PORT "$@" -jar $JAR > $TMP/two-models-server.log 2>&1 &
  SERVER=$!
  until curl -sf $URL/q/health/ready > /dev/null; do sleep 0.2; done
}
stop() { kill $SERVER; wait $SERVER 2>/dev/null || true; }
tokps() { grep -o 'output throughput | [0-9.]*' "$1" | grep -o '[0-9.]*$'; }

serve -Dmoa.models=shakespeare-copy=moa-shakespeare -Dmoa.models.preload=shakespeare-copy
java -jar $JAR loadgen --url $URL --clients 32 $LOAD --model moa-shakespeare > $TMP/one.txt   # warm both paths first
java -jar $JAR loadgen --url $URL --clients 32 $LOAD --model shakespeare-copy > /dev/null
java -jar $JAR loadgen --url $URL --clients 32 $LOAD --model moa-shakespeare > $TMP/one.txt
java -jar $JAR loadgen --url $URL --clients 16 --requests 128 --prompt-len 32 --max-tokens 64 --model moa-shakespeare > $TMP/a.txt &
A=$!
java -jar $JAR loadgen --url $URL --clients 16 --requests 128 --prompt-len 32 --max-tokens 64 --model shakespeare-copy > $TMP/b.txt
wait $A
one=$(tokps $TMP/one.txt); a=$(tokps $TMP/a.txt); b=$(tokps $TMP/b.txt)
echo "one generator, 32 clients: $one tok/s"
echo "two generators, 16 clients each at once: $a + $b = $(echo "$a + $b" | bc) tok/s (sum / one = $(echo "scale=2; ($a + $b) / $one" | bc))"
stop

serve
SERVER1=$SERVER; URL1=$URL; PORT=$((PORT + 1)); URL=http://localhost:$PORT
serve
java -jar $JAR loadgen --url $URL1 --clients 32 $LOAD > /dev/null
java -jar $JAR loadgen --url $URL --clients 32 $LOAD > /dev/null
java -jar $JAR loadgen --url $URL1 --clients 16 --requests 128 --prompt-len 32 --max-tokens 64 > $TMP/a.txt &
A=$!
java -jar $JAR loadgen --url $URL --clients 16 --requests 128 --prompt-len 32 --max-tokens 64 > $TMP/b.txt
wait $A
a=$(tokps $TMP/a.txt); b=$(tokps $TMP/b.txt)
echo "two server processes, 16 clients each at once: $a + $b = $(echo "$a + $b" | bc) tok/s (sum / one = $(echo "scale=2; ($a + $b) / $one" | bc))"
stop; SERVER=$SERVER1; stop; PORT=$((PORT - 1)); URL=http://localhost:$PORT

serve -Dmoa.models=moa-shakespeare-encoder=moa-shakespeare-encoder -Dmoa.models.preload=moa-shakespeare-encoder
java -jar $JAR loadgen --url $URL --clients 32 $LOAD > /dev/null
java -jar $JAR loadgen --url $URL --clients 32 $LOAD > $TMP/alone.txt
TEXT=$(printf 'To be, or not to be, that is the question: whether tis nobler in the mind to suffer. %.0s' 1 2)
BODY="{\"model\": \"moa-shakespeare-encoder\", \"input\": [$(for i in $(seq 16); do printf '"%s %d",' "$TEXT" $i; done | sed 's/,$//')]}"
( n=0; t0=$(date +%s.%N); while [ ! -f $TMP/two-models.stop ]; do
    curl -sf $URL/v1/embeddings -H 'Content-Type: application/json' -d "$BODY" > /dev/null; n=$((n + 1)); done
  echo "$n $(echo "$(date +%s.%N) - $t0" | bc)" > $TMP/embeddings.count ) &
E=$!
rm -f $TMP/two-models.stop
java -jar $JAR loadgen --url $URL --clients 32 $LOAD > $TMP/beside.txt
touch $TMP/two-models.stop; wait $E; rm -f $TMP/two-models.stop
read n secs < $TMP/embeddings.count
echo "generator alone, 32 clients: $(tokps $TMP/alone.txt) tok/s"
echo "generator with an encoder's embeddings beside it: $(tokps $TMP/beside.txt) tok/s, embeddings $n requests of 16 inputs in $secs s ($(echo "scale=1; $n * 16 / $secs" | bc) inputs/s)"
stop
