#!/bin/sh
# shellcheck disable=SC2034 # the *_pid variables are stopped by name (LIB_PIDS, agent_lib.sh)
# fleet_agent_sealed.sh -- an encrypted image over the wire, end to end:
# the built fleet-agent with its wrap key (encryption: in its
# configuration), a real mosquitto, the real HTTP range server
# (support/http_range_server.c) serving only the container, the image
# sealed with `fleet-manifest seal`, signed with `sign --sealed`, its key
# wrapped with `fleet-manifest wrap`, offers published with mosquitto_pub
# as docs/protocol.md's worked example does:
#
#   fleet_agent_sealed.sh FLEET_AGENT FLEET_MANIFEST HTTP_RANGE_SERVER
#                         FREE_PORT MOSQUITTO
#
#   1. a key wrapped for another device: unsupported_package,
#      not_for_this_device; nothing downloaded, the state folder
#      byte-identical;
#   2. the key wrapped for this device: the container downloaded (the
#      connection cut mid-way, and resumed with Range where it stopped),
#      unsealed chunk by chunk, the agent exits for the reboot, and after
#      it the trial and the commit of 2.0.0, whose slot holds exactly the
#      plain image;
#   3. a configuration whose wrap key is readable by others, or not a
#      key, is refused before anything starts.
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
SLOT=262144

LIB_PIDS="agent_pid sub_pid http_pid mq_pid"
LIB_LOGS="agent.log sub.log http.log mq.log err"
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

# ---- keys: signing, this device's wrap key, another device's
"$FM" keygen --out signing.pem >/dev/null || fail "keygen"
"$FM" pubkey signing.pem >signing.pub || fail "pubkey"
"$FM" wrapkey --out dev-a.wrap.pem >/dev/null || fail "wrapkey dev-a"
"$FM" pubkey dev-a.wrap.pem >dev-a.wrap.pub || fail "pubkey dev-a"
"$FM" wrapkey --out dev-b.wrap.pem >/dev/null || fail "wrapkey dev-b"
"$FM" pubkey dev-b.wrap.pem >dev-b.wrap.pub || fail "pubkey dev-b"
[ "$(stat -c %a dev-a.wrap.pem)" = 600 ] || fail "wrapkey not 0600"

# ---- the image: half random, half compressible; sealed, only the
# container served
head -c 65536 /dev/urandom >fw-1.0.0.bin
{
	head -c 98304 /dev/urandom
	head -c 98304 /dev/zero
} >fw-2.0.0.bin
IMG_BYTES=$(wc -c <fw-2.0.0.bin | tr -d ' ')
"$FM" seal --in fw-2.0.0.bin --out fw-2.0.0.flec --key-out fw-2.0.0.key \
	>/dev/null || fail "seal"
ENC_BYTES=$(wc -c <fw-2.0.0.flec | tr -d ' ')
cmp -s fw-2.0.0.bin fw-2.0.0.flec && fail "the container is the image"
"$HTTPD" --file fw-2.0.0.flec --port 0 --log http.log --cut-after 40000 \
	--cut-count 1 --throttle 32000 >http.port 2>http.err &
http_pid=$!
wait_for http.port '^port [0-9]+$' 10
HTTP_PORT=$(sed -n 's/^port //p' http.port)
"$FM" sign --key signing.pem --component firmware --version 2.0.0 \
	--hardware acme-gw-2 --file fw-2.0.0.bin --sealed fw-2.0.0.flec \
	--url "http://127.0.0.1:$HTTP_PORT/artifacts/fw-2.0.0.flec" \
	--seq 2 --ttl 1d --out m2.json >/dev/null || fail "sign --sealed"
KEY=$("$FM" wrap --content-key fw-2.0.0.key --manifest m2.json \
	--to dev-a.wrap.pub --name $ID) || fail "wrap for $ID"
KEY_B=$("$FM" wrap --content-key fw-2.0.0.key --manifest m2.json \
	--to dev-b.wrap.pub --name dev-b) || fail "wrap for dev-b"

# ---- the device
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
  wrap_key: dev-a.wrap.pem
  chunk_max: 32768
policy:
  download_retry_base_s: 1
  download_retry_max_s: 1
  health_window_s: 1
reboot:
  mode: exit
EOF

# 3 first: bad wrap keys are refused at start
sed 's/wrap_key: dev-a.wrap.pem/wrap_key: open.pem/' agent.yaml >open.yaml
cp dev-a.wrap.pem open.pem && chmod 644 open.pem
"$AGENT" --config open.yaml --check >out 2>err && fail "an open wrap key taken"
grep -q "open.yaml:[0-9]*:[0-9]*: error: \`wrap_key\`: \`open.pem\`: a private key open to others (mode 0644): chmod 600 it" err ||
	fail "open wrap key: $(cat err)"
sed 's/wrap_key: dev-a.wrap.pem/wrap_key: signing.pub/' agent.yaml >pub.yaml
chmod 600 signing.pub
"$AGENT" --config pub.yaml --check >out 2>err && fail "a public key taken"
grep -q "error: \`wrap_key\`: \`signing.pub\`: not a P-256 private key (PEM)" err ||
	fail "not a key: $(cat err)"
"$AGENT" --config agent.yaml --check >out 2>err || fail "check: $(cat err)"
rm -f out err

start_agent() {
	"$AGENT" --config agent.yaml --verbose >>agent.log 2>&1 &
	agent_pid=$!
}

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

mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 -v -t "$TOPIC/#" \
	>sub.log 2>&1 &
sub_pid=$!
sleep 0.3
start_agent
wait_for sub.log "^$TOPIC/reported .*\"slots\":\[\{\"state\":\"confirmed\",\"version\":\"1.0.0\",\"seq\":1[,}].*\{\"state\":\"empty\"\}\]"
wait_for agent.log 'encryption: 1 wrap key' 5
sleep 0.5

NOW=$(date +%s)
offer() { # offer JOB KEY
	echo "{\"type\":\"offer\",\"job\":$1,\"issued\":$NOW,\"expires\":$((NOW + 3600)),\"manifest\":$(cat m2.json),\"key\":\"$2\"}"
}

# 1. a key wrapped for another device
before=$(digest)
pub "$(offer 10 "$KEY_B")"
wait_for sub.log "^$TOPIC/status \{\"job\":10,.*\"state\":\"idle\",\"result\":\"unsupported_package\",\"reason\":\"not_for_this_device\"" 10
sleep 0.5
[ "$(digest)" = "$before" ] || fail "the refused offer changed the device's state"
[ "$(lines http.log)" -eq 0 ] || fail "the refused offer downloaded"
grep -q "\"job\":10,.*\"state\":\"downloading\"" sub.log && fail "job 10 taken"

# 2. the key for this device; the connection cut once mid-way
mark=$(lines sub.log)
pub "$(offer 11 "$KEY")"
wait_for sub.log "^$TOPIC/status \{\"job\":11,.*\"state\":\"downloading\"" 10 "$mark"
wait_for http.log '^req 2 offset [0-9]+ status 206 ' 30
grep -q '^req 1 offset 0 status 200 cut ' http.log || fail "first request not cut"
resume=$(sed -n 's/^req 2 offset \([0-9]*\) status 206 .*/\1/p' http.log)
[ "$resume" -eq 40000 ] || fail "resumed at $resume, not where the cut was (40000)"
wait_for sub.log "^$TOPIC/status \{\"job\":11,.*\"state\":\"downloaded\"" 30 "$mark"
wait_for sub.log "^$TOPIC/status \{\"job\":11,.*\"state\":\"updating\"" 10 "$mark"
wait_exit 3
sent=$(awk '/^done / {s += $4} END {print s + 0}' http.log)
echo "container $ENC_BYTES bytes for an image of $IMG_BYTES; the server sent $sent in $(grep -c '^req ' http.log) requests"
[ "$sent" -eq "$ENC_BYTES" ] || fail "$sent bytes sent for a container of $ENC_BYTES"
start_agent
wait_for sub.log "^$TOPIC/status \{\"job\":11,\"boot\":2,.*\"state\":\"idle\",\"result\":\"success\"" 30 "$mark"
wait_for sub.log "^$TOPIC/reported .*\"boot\":2,.*\"components\":\[\{\"name\":\"firmware\",\"version\":\"2.0.0\"\}\].*\{\"state\":\"confirmed\",\"version\":\"2.0.0\",\"seq\":2[,}].*\"floor\":2,\"job\":11,\"state\":\"idle\",\"result\":\"success\"" 10 "$mark"
# slot B (after 4 erase units of metadata and slot A) holds the image
dd if=state/flash.img bs=4096 skip=$((4 + SLOT / 4096)) \
	count=$(((IMG_BYTES + 4095) / 4096)) 2>/dev/null |
	head -c "$IMG_BYTES" | cmp -s - fw-2.0.0.bin ||
	fail "slot B does not hold the plain image"
echo "sealed: not_for_this_device refused, cut resumed at $resume, 2.0.0 committed"
exit 0
