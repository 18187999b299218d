#!/bin/sh
# shellcheck disable=SC2034 # the *_pid variables are stopped by name (LIB_PIDS, agent_lib.sh)
# fleet_agent_attacks.sh -- the attacks on a device that travel over the
# wire, end to end: the built fleet-agent trusting only a root key, a real
# mosquitto, real HTTP servers (support/http_range_server.c), manifests
# signed with fleet-manifest as an envelope 2 (a signing key certified by
# the root), commands published with mosquitto_pub:
#
#   fleet_agent_attacks.sh FLEET_AGENT FLEET_MANIFEST HTTP_RANGE_SERVER
#                          FREE_PORT MOSQUITTO
#
#   1. download longer than signed: a server whose Content-Length is
#      longer than the signed length (integrity_failure, length), and one
#      that sends more than the signed length in chunked encoding, with no
#      length up front (integrity_failure, too_long); the device still runs
#      1.0.0 from slot A, slot B is bad, the floor has not moved, and a
#      restart of the agent changes none of it;
#   2. replayed old command: the last command's exact bytes again (its
#      final status is re-sent), an older one (stale), an old manifest
#      re-wrapped in a command with the highest job id (downgrade_refused),
#      each leaving the device's state folder (slot records, slots, the
#      agent's state) byte-identical; then a genuine job is still taken
#      (the forged job id did not stick).
#
# Exit 0 when every check holds, 1 at the first that does not (with the
# logs' tails). Every process it starts is stopped by its pid. With
# FL_TEST_KEEP set, the temporary folder is kept for a look.
set -u
[ $# -eq 5 ] || {
	echo "usage: $0 FLEET_AGENT FLEET_MANIFEST HTTP_RANGE_SERVER FREE_PORT MOSQUITTO" >&2
	exit 2
}
# shellcheck source=agent_lib.sh
. "$(dirname "$0")/agent_lib.sh"
AGENT=$(abs "$1")
FM=$(abs "$2")
HTTPD=$(abs "$3")
FREE_PORT=$(abs "$4")
MOSQUITTO=$5
ID=dev-a
TOPIC=fleet/v1/dev/$ID
IMG_BYTES=131072

LIB_PIDS="agent_pid sub_pid long_pid chunk_pid mq_pid"
LIB_LOGS="agent.log sub.log long.log chunk.log mq.log"
lib_start

# ---- the broker
MQ_PORT=$("$FREE_PORT") || fail "no free port"
cat >mq.conf <<EOF
listener $MQ_PORT 127.0.0.1
allow_anonymous true
user root
EOF
"$MOSQUITTO" -c mq.conf >>mq.log 2>&1 &
mq_pid=$!
n=0
until mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -t probe -n 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "mosquitto does not start on port $MQ_PORT"
	sleep 0.1
done

pub() {
	mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 -t "$TOPIC/cmd" \
		-D publish message-expiry-interval 3600 -m "$1" ||
		fail "mosquitto_pub failed"
}

# ---- keys: a root, a signing key it certifies (generation 1)
"$FM" keygen --out root.pem >/dev/null || fail "keygen root"
"$FM" pubkey root.pem >root.pub || fail "pubkey root"
"$FM" keygen --out signing.pem >/dev/null || fail "keygen signing"
"$FM" certify --root root.pem --key signing.pem --generation 1 \
	--out signing.cert >/dev/null || fail "certify"

# ---- images and servers
head -c 65536 /dev/urandom >fw-1.0.0.bin
head -c 32768 /dev/urandom >fw-0.9.0.bin
head -c $IMG_BYTES /dev/urandom >fw-2.0.0.bin
cat fw-2.0.0.bin >long.bin
head -c 4096 /dev/urandom >>long.bin

serve() { # serve NAME ARGS...: starts a server on long.bin, sets $port
	name=$1
	shift
	"$HTTPD" --file long.bin --port 0 --log "$name.log" "$@" \
		>"$name.port" 2>"$name.err" &
	last_pid=$!
	wait_for "$name.port" '^port [0-9]+$' 10
	port=$(sed -n 's/^port //p' "$name.port")
}
serve long
long_pid=$last_pid
LONG_PORT=$port
serve chunk --chunked
chunk_pid=$last_pid
CHUNK_PORT=$port

sign() { # sign OUT VERSION FILE SEQ URL
	"$FM" sign --key signing.pem --cert signing.cert --component firmware \
		--version "$2" --hardware acme-gw-2 --file "$3" --url "$5" \
		--seq "$4" --ttl 1d --out "$1" >/dev/null || fail "sign $1"
}
sign m-long.json 2.0.0 fw-2.0.0.bin 2 \
	"http://127.0.0.1:$LONG_PORT/artifacts/fw-2.0.0.bin"
sign m-chunk.json 2.0.0 fw-2.0.0.bin 2 \
	"http://127.0.0.1:$CHUNK_PORT/artifacts/fw-2.0.0.bin"
sign m-old.json 0.9.0 fw-0.9.0.bin 5 \
	"http://127.0.0.1:$LONG_PORT/artifacts/fw-0.9.0.bin"
sign m-same.json 1.0.0 fw-1.0.0.bin 1 \
	"http://127.0.0.1:$LONG_PORT/artifacts/fw-1.0.0.bin"
grep -q '^{"v":2,' m-long.json || fail "not an envelope 2"

# ---- the device: it trusts the root only
mkdir state
cat >agent.yaml <<EOF
device:
  id: $ID
  model: acme-gw-2
broker:
  host: 127.0.0.1
  port: $MQ_PORT
state:
  dir: state
flash:
  backend: file
  path: state/flash.img
  slot_bytes: 262144
  factory:
    image: fw-1.0.0.bin
    version: 1.0.0
    seq: 1
roots:
  - root.pub
policy:
  download_retry_base_s: 1
  download_retry_max_s: 1
reboot:
  mode: exit
EOF

start_agent() {
	"$AGENT" --config agent.yaml --verbose >>agent.log 2>&1 &
	agent_pid=$!
}

mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 -v -t "$TOPIC/#" \
	>sub.log 2>&1 &
sub_pid=$!
sleep 0.3
start_agent
wait_for sub.log "^$TOPIC/reported .*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\",\"seq\":1[,}]"

NOW=$(date +%s)
cmd() { # cmd JOB MANIFEST_FILE
	echo "{\"type\":\"offer\",\"job\":$1,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat "$2")}"
}
status_re() { # status_re JOB RESULT [REASON]
	r="^$TOPIC/status \{\"job\":$1,.*\"state\":\"idle\",\"result\":\"$2\""
	[ $# -lt 3 ] || r="$r,\"reason\":\"$3\""
	echo "$r"
}

# 1. download longer than signed
pub "$(cmd 10 m-long.json)"
wait_for sub.log "$(status_re 10 integrity_failure length)" 20
pub "$(cmd 11 m-chunk.json)"
wait_for sub.log "$(status_re 11 integrity_failure too_long)" 20
grep -q '^req 1 offset 0 status 200 ' chunk.log || fail "chunk server unused"
wait_for sub.log "^$TOPIC/reported .*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\",\"seq\":1[,}].*\{\"state\":\"bad\"[^]]*\],\"floor\":1,\"job\":11,\"state\":\"idle\"" 10
# a restart of the agent (a power cut) changes none of it
stop_pid "$agent_pid"
agent_pid=""
mark=$(lines sub.log)
start_agent
wait_for sub.log "^$TOPIC/reported .*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\",\"seq\":1[,}].*\{\"state\":\"bad\"[^]]*\],\"floor\":1,\"job\":11,\"state\":\"idle\"" 10 "$mark"
sleep 0.5

# 2. replayed old commands: the state folder must not change by one byte
before=$(digest)
mark=$(lines sub.log)
pub "$(cmd 11 m-chunk.json)" # the last command again: its status re-sent
wait_for sub.log "$(status_re 11 integrity_failure too_long)" 10 "$mark"
pub "$(cmd 10 m-long.json)" # an older one
wait_for sub.log "$(status_re 10 stale)" 10 "$mark"
pub "$(cmd 4294967295 m-old.json)" # an old manifest, re-wrapped
wait_for sub.log "$(status_re 4294967295 downgrade_refused)" 10 "$mark"
sleep 0.5
after=$(digest)
[ "$before" = "$after" ] || fail "the device's state changed: $before -> $after"
[ "$(grep -c '^req ' long.log)" -eq 1 ] || fail "a replay downloaded"
# the forged job id did not stick: a genuine job 12 is taken
pub "$(cmd 12 m-same.json)"
wait_for sub.log "$(status_re 12 success already_installed)" 10 "$mark"
echo "attacks refused: length, too_long, duplicate, stale, re-wrapped"
exit 0
