#!/bin/sh
# shellcheck disable=SC2034 # the *_pid variables are stopped by name (LIB_PIDS, agent_lib.sh)
# fleet_agent_sealed_kill.sh -- kill -9 sweep of fleet-agent on the
# encrypted path: the built fleet-agent with its wrap key, a real
# mosquitto, the real HTTP range server (support/http_range_server.c)
# serving the container slowly, an image sealed with `fleet-manifest
# seal` (zstd, chunks of 16 KiB), signed with `sign --sealed`, its key
# wrapped with `fleet-manifest wrap`; one offer with `activate: idle`:
#
#   fleet_agent_sealed_kill.sh FLEET_AGENT FLEET_MANIFEST HTTP_RANGE_SERVER
#                              FREE_PORT MOSQUITTO
#
#   1. kill -9 early in the transfer (within the first records), start
#      again: the container is fetched again from its start or from a
#      record boundary no later than the bytes sent;
#   2. kill -9 several chunks in, mid-chunk, start again: the transfer
#      resumes with Range at a record boundary no later than the bytes
#      sent (a checkpoint at every chunk);
#   3. kill -9 after the last chunk (the image staged, activation held by
#      the busy file), start again: no byte downloaded again, still
#      downloaded;
#   4. kill -9 during activation (the trial record written, the reboot
#      command running), start again: the boot loader boots the trial,
#      which commits 2.0.0, whose slot holds exactly the plain image.
#
# Over the four kills the server sends the container plus what the two
# kills mid-transfer lost since their last checkpoint: at most two records
# each (the record being gathered, and what was in flight). Exit 0 when
# every check holds, 1 at the first that does not (with the logs' tails).
# Every process it starts is stopped by its pid. With FL_TEST_KEEP set,
# the temporary folder is kept for a look.
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
ID=dev-k
TOPIC=fleet/v1/dev/$ID
SLOT=524288
CHUNK=16384
RATE=48000

LIB_PIDS="agent_pid sub_pid http_pid mq_pid"
LIB_LOGS="agent.log sub.log http.log mq.log"
# shellcheck disable=SC2317 # called at exit by lib_cleanup
lib_cleanup_hook() {
	if [ -f "$tmp/reboot.pid" ]; then
		kill "$(cat "$tmp/reboot.pid")" 2>/dev/null
	fi
}
lib_start

sent_total() {
	awk '/^done / {s += $4} END {print s + 0}' http.log
}

# The container's record starts, one a line: after the 32-byte header,
# each record is LE32 len, len bytes of payload, a 16-byte tag.
record_starts() {
	file=$1
	len=$(wc -c <"$file" | tr -d ' ')
	off=32
	while [ "$off" -lt "$len" ]; do
		echo "$off"
		# shellcheck disable=SC2046
		set -- $(od -An -tu1 -j "$off" -N4 "$file")
		off=$((off + 4 + $1 + $2 * 256 + $3 * 65536 + $4 * 16777216 + 16))
	done
}

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

# ---- keys, the image (three quarters random), the container
"$FM" keygen --out signing.pem >/dev/null || fail "keygen"
"$FM" pubkey signing.pem >signing.pub || fail "pubkey"
"$FM" wrapkey --out $ID.wrap.pem >/dev/null || fail "wrapkey"
"$FM" pubkey $ID.wrap.pem >$ID.wrap.pub || fail "pubkey $ID"
head -c 65536 /dev/urandom >fw-1.0.0.bin
{
	head -c 196608 /dev/urandom
	head -c 65536 /dev/zero
} >fw-2.0.0.bin
IMG_BYTES=$(wc -c <fw-2.0.0.bin | tr -d ' ')
"$FM" seal --in fw-2.0.0.bin --out fw-2.0.0.flec --key-out fw-2.0.0.key \
	--zip zstd --chunk $CHUNK >/dev/null || fail "seal"
ENC_BYTES=$(wc -c <fw-2.0.0.flec | tr -d ' ')
record_starts fw-2.0.0.flec >records
"$HTTPD" --file fw-2.0.0.flec --port 0 --log http.log --throttle $RATE \
	>http.port 2>http.err &
http_pid=$!
wait_for http.port '^port [0-9]+$' 10
HTTP_PORT=$(sed -n 's/^port //p' http.port)
"$FM" sign --key signing.pem --component firmware --version 2.0.0 \
	--hardware acme-gw-2 --file fw-2.0.0.bin --sealed fw-2.0.0.flec \
	--url "http://127.0.0.1:$HTTP_PORT/artifacts/fw-2.0.0.flec" \
	--seq 2 --ttl 1d --out m2.json >/dev/null || fail "sign --sealed"
KEY=$("$FM" wrap --content-key fw-2.0.0.key --manifest m2.json \
	--to $ID.wrap.pub --name $ID) || fail "wrap"

# ---- the device: a checkpoint at every chunk, the reboot a command that
# waits (so that a kill lands during activation)
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
  slot_bytes: $SLOT
  factory:
    image: fw-1.0.0.bin
    version: 1.0.0
    seq: 1
keys:
  - signing.pub
encryption:
  wrap_key: $ID.wrap.pem
facts:
  busy_file: busy
policy:
  checkpoint_bytes: $CHUNK
  checkpoint_ms: 0
  download_retry_base_s: 1
  download_retry_max_s: 1
  health_window_s: 1
reboot:
  mode: command
  command: echo \$\$ >reboot.pid; exec sleep 120
EOF
"$AGENT" --config agent.yaml --check >out 2>err || fail "check: $(cat err)"

start_agent() {
	"$AGENT" --config agent.yaml --verbose >>agent.log 2>&1 &
	agent_pid=$!
}

# kill_agent: kill -9, and the reboot command if it runs
kill_agent() {
	kill -9 "$agent_pid" 2>/dev/null || fail "the agent was not running"
	wait "$agent_pid" 2>/dev/null
	agent_pid=""
	if [ -f reboot.pid ]; then
		kill "$(cat reboot.pid)" 2>/dev/null
		rm -f reboot.pid
	fi
}

# The last request's range start; it must be a record start (or 0).
check_resume() { # REQ_NO
	off=$(sed -n "s/^req $1 offset \([0-9]*\) status .*/\1/p" http.log)
	[ -n "$off" ] || fail "no request $1"
	if [ "$off" -ne 0 ]; then
		grep -qx "$off" records || fail "request $1 resumed at $off: not a record start"
	fi
	echo "$off"
}

mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 -v -t "$TOPIC/#" \
	>sub.log 2>&1 &
sub_pid=$!
sleep 0.3
start_agent
wait_for sub.log "^$TOPIC/reported .*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\""
NOW=$(date +%s)
pub "{\"type\":\"offer\",\"job\":20,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat m2.json),\"key\":\"$KEY\",\"activate\":\"idle\",\"health\":{\"window_s\":1}}"
wait_for sub.log "^$TOPIC/status \{\"job\":20,.*\"state\":\"downloading\"" 10
touch busy # the download goes on; the activation waits

# 1. early in the transfer
wait_for http.log '^req 1 offset 0 status 200' 10
sleep 0.15
kill_agent
grep -q '^done 1 ' http.log || sleep 0.3
s1=$(sent_total)
start_agent
wait_for http.log '^req 2 offset' 20
r2=$(check_resume 2)
echo "kill 1 after $s1 bytes sent: request 2 from $r2"
[ "$r2" -le "$s1" ] || fail "resumed at $r2, past the $s1 bytes sent"

# 2. several chunks in, mid-chunk
sleep 1.5
kill_agent
sleep 0.3
s2=$(sent_total)
start_agent
wait_for http.log '^req 3 offset' 20
r3=$(check_resume 3)
echo "kill 2 after $s2 bytes sent: request 3 from $r3"
[ "$r3" -gt 0 ] || fail "the transfer started again from 0 after several chunks"
[ "$r3" -le $((s2 - s1 + r2)) ] || fail "resumed at $r3, past the bytes received"

# 3. after the last chunk: staged, activation held by the busy file
wait_for sub.log "^$TOPIC/status \{\"job\":20,.*\"state\":\"downloaded\",.*\"reason\":\"idle\"" 30
grep -q '^done 3 ' http.log || sleep 0.5
mark_http=$(lines http.log)
mark_sub=$(lines sub.log)
kill_agent
start_agent
wait_for sub.log "^$TOPIC/presence \{\"online\":true,\"boot\":4," 20 "$mark_sub"
wait_for sub.log "^$TOPIC/reported .*\"boot\":4,.*\"job\":20,\"state\":\"downloaded\"" 10 "$mark_sub"
sleep 1
[ "$(lines http.log)" -eq "$mark_http" ] || fail "downloaded again after the last chunk"
echo "kill 3 after the last chunk: still downloaded, nothing fetched again"

# 4. during activation: the trial record is written, the reboot command runs
mark_sub=$(lines sub.log)
rm -f busy
wait_for sub.log "^$TOPIC/status \{\"job\":20,.*\"state\":\"updating\"" 20 "$mark_sub"
wait_for reboot.pid '^[0-9]+$' 10
kill_agent
start_agent
wait_for sub.log "^$TOPIC/status \{\"job\":20,\"boot\":5,.*\"state\":\"idle\",\"result\":\"success\"" 30 "$mark_sub"
wait_for sub.log "^$TOPIC/reported .*\"boot\":5,.*\"components\":\[\{\"name\":\"firmware\",\"version\":\"2.0.0\"\}\].*\{\"state\":\"confirmed\",\"version\":\"2.0.0\",\"seq\":2[,}]" 10 "$mark_sub"
echo "kill 4 during activation: the trial booted and committed"
[ "$(lines http.log)" -eq "$mark_http" ] || fail "downloaded again after activation"
# slot B (after 4 erase units of metadata and slot A) holds the image
dd if=state/flash.img bs=4096 skip=$((4 + SLOT / 4096)) \
	count=$(((IMG_BYTES + 4095) / 4096)) 2>/dev/null |
	head -c "$IMG_BYTES" | cmp -s - fw-2.0.0.bin ||
	fail "slot B does not hold the plain image"

sent=$(sent_total)
max_rec=$(awk 'NR > 1 { d = $1 - p; if (d > m) m = d } { p = $1 } END { print m }' records)
echo "container $ENC_BYTES bytes (image $IMG_BYTES, records up to $max_rec); the server sent $sent in $(grep -c '^req ' http.log) requests"
[ "$sent" -ge "$ENC_BYTES" ] || fail "only $sent bytes sent"
[ "$sent" -le $((ENC_BYTES + 4 * max_rec)) ] ||
	fail "$sent bytes sent: more than the container and two records per kill"
echo "sealed kill sweep: 4 kills, 2.0.0 committed"
exit 0
