#!/bin/sh
# shellcheck disable=SC2034 # the *_pid variables are stopped by name (LIB_PIDS, agent_lib.sh)
# fleet_agent.sh -- the built fleet-agent as a device runs it, against a
# real mosquitto and a real HTTP server, in a temporary folder:
#
#   fleet_agent.sh FLEET_AGENT FLEET_MANIFEST HTTP_RANGE_SERVER FREE_PORT
#                  MOSQUITTO
#
# The device is file-backed (flash.img: slot records, slot A, slot B) with
# the simulated boot loader, which decides at every start of the agent
# what boots, as at power-on; the agent's reboot is "exit 3", after which
# this script starts it again. Commands are published with mosquitto_pub
# exactly as docs/protocol.md's worked examples do; what the device says
# is followed with mosquitto_sub. Checked, in order:
#
#   1. start: presence online (boot 1) and reported 1.0.0 in slot A;
#   2. bad commands: garbage (dropped), a bad field with a readable job
#      (answered invalid_command), over 2048 bytes (dropped unread), each
#      changing nothing;
#   3. an offer of 2.0.0: the server cuts the first 3 responses; each try
#      resumes with Range where the last one stopped; the broker restarts
#      mid-download (the agent reconnects, conn 2); the agent is killed
#      with -9 mid-download and started again, and resumes with Range from
#      its checkpoint; the body bytes the server sent in all stay within
#      the image size plus two checkpoints (what the kill lost since the
#      last checkpoint, and what was in flight);
#   4. the reboot: updating, presence offline, exit 3; a stale command
#      published while the device is down waits in its session and is
#      answered "stale" when it is back (the session outlives the
#      connection); the trial (health hook, crashes and temp_c limits)
#      passes; success; reported shows 2.0.0 booted from slot B;
#   5. the same offer again is a duplicate (the final status re-sent), an
#      older job id is stale;
#   6. a rollback to 1.0.0: no download (no new HTTP request), updating,
#      exit 3, trial, rolled_back; reported shows 1.0.0 and floor 3; the
#      old 2.0.0 manifest is now refused (anti_rollback);
#   7. SIGTERM: presence offline, exit 0.
#
# Exit 0 when every check holds, 1 at the first that does not (with the
# logs' tails). Every process it starts is stopped by its pid. With
# FL_TEST_KEEP set, the temporary folder is kept for a look.
set -u
[ $# -eq 5 ] || {
	echo "usage: $0 FLEET_AGENT FLEET_MANIFEST HTTP_RANGE_SERVER FREE_PORT MOSQUITTO" >&2
	exit 2
}
AGENT=$1
FM=$2
HTTPD=$3
FREE_PORT=$4
MOSQUITTO=$5
# shellcheck source=agent_lib.sh
. "$(dirname "$0")/agent_lib.sh"
AGENT=$(abs "$AGENT")
FM=$(abs "$FM")
HTTPD=$(abs "$HTTPD")
FREE_PORT=$(abs "$FREE_PORT")
ID=dev-1
TOPIC=fleet/v1/dev/$ID
IMG_BYTES=196608
CKPT=16384

LIB_PIDS="agent_pid sub_pid http_pid mq_pid"
LIB_LOGS="agent.log sub.log http.log mq.log"
lib_start

# ---- the broker
MQ_PORT=$("$FREE_PORT") || fail "no free port"
mkdir -p mq
cat >mq.conf <<EOF
listener $MQ_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $tmp/mq/
user root
log_type all
EOF

start_broker() {
	i=0
	while :; do
		"$MOSQUITTO" -c mq.conf >>mq.log 2>&1 &
		mq_pid=$!
		j=0
		while [ $j -lt 50 ]; do
			if mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -t probe -n \
				2>/dev/null; then
				return 0
			fi
			kill -0 "$mq_pid" 2>/dev/null || break
			sleep 0.1
			j=$((j + 1))
		done
		stop_pid "$mq_pid"
		i=$((i + 1))
		[ $i -lt 3 ] || fail "mosquitto does not start on port $MQ_PORT"
		sleep 0.5
	done
}

pub() {
	mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 -t "$TOPIC/cmd" \
		-D publish message-expiry-interval 3600 -m "$1" ||
		fail "mosquitto_pub failed"
}

# ---- images, keys, manifests
head -c 65536 /dev/urandom >fw-1.0.0.bin
head -c $IMG_BYTES /dev/urandom >fw-2.0.0.bin
"$FM" keygen --out signing.pem >/dev/null || fail "keygen"
"$FM" pubkey signing.pem >signing.pub || fail "pubkey"

"$HTTPD" --file fw-2.0.0.bin --port 0 --log http.log --cut-after 20000 \
	--cut-count 3 --throttle 16000 >http.port 2>http.err &
http_pid=$!
wait_for http.port '^port [0-9]+$' 10
HTTP_PORT=$(sed -n 's/^port //p' http.port)

"$FM" sign --key signing.pem --component firmware --version 2.0.0 \
	--hardware acme-gw-2 --file fw-2.0.0.bin \
	--url "http://127.0.0.1:$HTTP_PORT/artifacts/fw-2.0.0.bin" \
	--seq 2 --ttl 1d --out m2.json || fail "sign 2.0.0"
"$FM" sign --key signing.pem --component firmware --version 1.0.0 \
	--hardware acme-gw-2 --file fw-1.0.0.bin \
	--url "http://127.0.0.1:$HTTP_PORT/artifacts/fw-1.0.0.bin" \
	--seq 3 --ttl 1d --rollback --out rb.json || fail "sign rollback"

# ---- the device
mkdir state
echo 0 >crashes
echo 41.5 >temp_c
touch hook-ok
cat >agent.yaml <<EOF
device:
  id: $ID
  model: acme-gw-2
  labels:
    ring: beta
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
keys:
  - file: signing.pub
    rollback: true
policy:
  checkpoint_bytes: $CKPT
  download_retry_base_s: 1
  download_retry_max_s: 1
  health_sample_ms: 200
health:
  crashes_file: crashes
  metrics:
    temp_c: temp_c
  hook: test -f $tmp/hook-ok
  hook_timeout_s: 10
reboot:
  mode: exit
EOF

start_agent() {
	"$AGENT" --config agent.yaml --verbose >>agent.log 2>&1 &
	agent_pid=$!
}

# wait_exit STATUS: the agent exits with STATUS within 30 s.
wait_exit() {
	n=0
	while kill -0 "$agent_pid" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 300 ] || fail "the agent did not exit"
		sleep 0.1
	done
	wait "$agent_pid"
	rc=$?
	agent_pid=""
	[ "$rc" -eq "$1" ] || fail "the agent exited $rc, want $1"
}

start_broker
mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 -v -t "$TOPIC/#" \
	>sub.log 2>&1 &
sub_pid=$!
sleep 0.3

# 1. start
start_agent
wait_for sub.log "^$TOPIC/presence \{\"online\":true,\"boot\":1,\"conn\":1,"
wait_for sub.log "^$TOPIC/reported .*\"components\":\[\{\"name\":\"firmware\",\"version\":\"1.0.0\"\}\].*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\",\"seq\":1[,}].*\{\"state\":\"empty\"\}\]"
grep -q 'factory: slot A provisioned' agent.log || fail "not provisioned"

# 2. bad commands
NOW=$(date +%s)
pub '{"type":"offer","job":'
wait_for agent.log 'cmd: undecodable \(job 0\)'
pub "{\"type\":\"offer\",\"job\":5,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":{\"v\":1}}"
wait_for sub.log "^$TOPIC/status \{\"job\":5,.*\"state\":\"idle\",\"result\":\"invalid_command\",\"reason\":\"bad_field\""
big=$(head -c 3000 /dev/zero | tr '\0' ' ')
pub "{\"type\":\"offer\",\"job\":6,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"pad\":\"$big\"}"
wait_for agent.log 'cmd: [0-9]+ bytes, over 2048: dropped unread'
pub "{\"type\":\"cancel\",\"job\":7,\"issued\":$((NOW - 7200)),\"expires\":$((NOW - 3600))}"
wait_for sub.log "^$TOPIC/status \{\"job\":7,.*\"result\":\"expired\""
grep -q "^$TOPIC/status {\"job\":6," sub.log && fail "oversized command answered"

# 3. the download, through cuts, a broker restart and a kill -9
mark_sub=$(lines sub.log)
pub "{\"type\":\"offer\",\"job\":10,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat m2.json),\"health\":{\"window_s\":2,\"limits\":[{\"metric\":\"crashes\",\"max\":0},{\"metric\":\"temp_c\",\"max\":90}]}}"
wait_for sub.log "^$TOPIC/status \{\"job\":10,.*\"state\":\"downloading\"" 10 "$mark_sub"
# the three cut responses, each resumed where the last one stopped
wait_for http.log '^req 4 offset 60000 status 206 ' 30
grep -q '^req 1 offset 0 status 200 cut ' http.log || fail "first request"
grep -q '^req 2 offset 20000 status 206 cut ' http.log || fail "second request"
grep -q '^req 3 offset 40000 status 206 cut ' http.log || fail "third request"

# the broker goes away and comes back mid-download
stop_pid "$mq_pid"
start_broker
wait_for sub.log "^$TOPIC/presence \{\"online\":true,\"boot\":1,\"conn\":2," 20
grep -q '^done 4 ' http.log && fail "download ended before the kill: too fast"

# kill -9 mid-download, start again: it resumes from its checkpoint
mark_http=$(lines http.log)
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null
agent_pid=""
start_agent
wait_for sub.log "^$TOPIC/presence \{\"online\":true,\"boot\":2,\"conn\":1," 20
wait_for http.log '^req 5 offset [0-9]+ status 206 ' 20 "$mark_http"
resume=$(sed -n 's/^req 5 offset \([0-9]*\) status 206 .*/\1/p' http.log)
[ "$resume" -ge 60000 ] || fail "resumed at $resume, before the last cut"
wait_for sub.log "^$TOPIC/status \{\"job\":10,.*\"state\":\"downloaded\"" 30

# 4. the reboot into the trial
wait_for sub.log "^$TOPIC/status \{\"job\":10,.*\"state\":\"updating\"" 10
wait_exit 3
wait_for sub.log "^$TOPIC/presence \{\"online\":false,\"boot\":2,\"conn\":1\}" 10
sent=$(awk '/^done / {s += $4} END {print s + 0}' http.log)
echo "bytes sent by the server: $sent for an image of $IMG_BYTES ($(grep -c '^req ' http.log) requests)"
[ "$sent" -ge $IMG_BYTES ] || fail "only $sent bytes sent"
[ "$sent" -le $((IMG_BYTES + 2 * CKPT)) ] ||
	fail "$sent bytes sent: more than the image and two checkpoints"
# A command published while the device is down waits in its session.
pub "{\"type\":\"offer\",\"job\":8,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat m2.json)}"
start_agent
wait_for sub.log "^$TOPIC/presence \{\"online\":true,\"boot\":3,\"conn\":1," 20
wait_for sub.log "^$TOPIC/status \{\"job\":8,.*\"result\":\"stale\"" 10
wait_for sub.log "^$TOPIC/status \{\"job\":10,\"boot\":3,.*\"state\":\"trial\"" 10
wait_for sub.log "^$TOPIC/health \{.*\"boot\":3,.*\"slot\":1,\"trial\":true,\"job\":10" 10
wait_for sub.log "^$TOPIC/status \{\"job\":10,\"boot\":3,.*\"state\":\"idle\",\"result\":\"success\"" 20
wait_for sub.log "^$TOPIC/reported .*\"boot\":3,.*\"components\":\[\{\"name\":\"firmware\",\"version\":\"2.0.0\"\}\].*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\",\"seq\":1[,}].*\{\"state\":\"confirmed\",\"version\":\"2.0.0\",\"seq\":2[,}].*\"booted\":1,\"floor\":2,\"job\":10,\"state\":\"idle\",\"result\":\"success\"" 10
grep -q 'health hook: passed' agent.log || fail "the health hook did not pass"

# 5. a duplicate and a stale offer
mark_sub=$(lines sub.log)
pub "{\"type\":\"offer\",\"job\":10,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat m2.json)}"
wait_for sub.log "^$TOPIC/status \{\"job\":10,\"boot\":3,.*\"state\":\"idle\",\"result\":\"success\"" 10 "$mark_sub"
pub "{\"type\":\"offer\",\"job\":9,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat m2.json)}"
wait_for sub.log "^$TOPIC/status \{\"job\":9,.*\"state\":\"idle\",\"result\":\"stale\"" 10 "$mark_sub"

# 6. a rollback, without download
mark_http=$(lines http.log)
mark_sub=$(lines sub.log)
pub "{\"type\":\"rollback\",\"job\":12,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat rb.json),\"health\":{\"window_s\":1}}"
wait_for sub.log "^$TOPIC/status \{\"job\":12,.*\"state\":\"updating\"" 10 "$mark_sub"
tail -n +$((mark_sub + 1)) sub.log | grep -q '"job":12,.*"state":"downloading"' &&
	fail "the rollback downloaded"
wait_exit 3
start_agent
wait_for sub.log "^$TOPIC/status \{\"job\":12,\"boot\":4,.*\"state\":\"idle\",\"result\":\"rolled_back\"" 20 "$mark_sub"
wait_for sub.log "^$TOPIC/reported .*\"boot\":4,.*\"components\":\[\{\"name\":\"firmware\",\"version\":\"1.0.0\"\}\].*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\",\"seq\":3[,}].*\{\"state\":\"confirmed\",\"version\":\"2.0.0\",\"seq\":2[,}].*\"floor\":3,\"job\":12" 10 "$mark_sub"
[ "$(lines http.log)" -eq "$mark_http" ] || fail "HTTP requests during the rollback"
pub "{\"type\":\"offer\",\"job\":13,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat m2.json)}"
wait_for sub.log "^$TOPIC/status \{\"job\":13,.*\"result\":\"anti_rollback\"" 10 "$mark_sub"

# 7. a clean stop
kill -TERM "$agent_pid"
wait_exit 0
wait_for sub.log "^$TOPIC/presence \{\"online\":false,\"boot\":4,\"conn\":1\}" 10
grep -q ': error: ' agent.log &&
	fail "errors in the agent's log: $(grep ': error: ' agent.log | head -3)"
echo "fleet_agent: all checks passed"
exit 0
