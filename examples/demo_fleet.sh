#!/bin/sh
# demo_fleet.sh BUILD_DIR -- part of `make demo`: a fleet over MQTT, driven
# by hand as docs/protocol.md shows: a local mosquitto, an HTTP server with
# Range support, 200 fleet-sim devices (each its own MQTT session, agent and
# simulated A/B flash); every device is offered 2.0.0 with one mosquitto_pub
# per device, a quarter of them lose power in the middle of the install;
# then 3.0.0, which does not start on this hardware, and every device goes
# back to 1.0.0 by itself. Each step ends with fleet-sim's summary.
set -eu
build=$1
top=$(cd "$(dirname "$0")/.." && pwd)
SIM=$top/$build/agent/sim/fleet-sim
FM=$top/$build/common/tools/fleet-manifest
HTTPD=$top/$build/tests/http_range_server
FREE_PORT=$top/$build/tests/free_port
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
N=200
for p in "$SIM" "$FM" "$HTTPD" "$FREE_PORT" "$MOSQUITTO"; do
	if [ ! -x "$p" ]; then
		echo "demo_fleet.sh: $p is missing; run 'make demo'" >&2
		exit 1
	fi
done

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$tmp"

say() { printf '%s\n' "$*"; }

MQ_PORT=$("$FREE_PORT")
cat >mq.conf <<EOF
listener $MQ_PORT 127.0.0.1
allow_anonymous true
user root
max_queued_messages 1000
EOF
"$MOSQUITTO" -c mq.conf >mq.log 2>&1 &
pids="$pids $!"
i=0
until mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -t probe -n 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { say "mosquitto does not start"; exit 1; }
	sleep 0.05
done

head -c 65536 /dev/urandom >fw-1.0.0.bin
head -c 262144 /dev/urandom >fw-2.0.0.bin
head -c 262144 /dev/urandom >fw-3.0.0.bin
"$FM" keygen --out signing.pem >/dev/null
"$FM" pubkey signing.pem >signing.pub
"$HTTPD" --file fw-2.0.0.bin --port 0 >http2.port 2>/dev/null &
pids="$pids $!"
"$HTTPD" --file fw-3.0.0.bin --port 0 >http3.port 2>/dev/null &
pids="$pids $!"
sleep 0.3
P2=$(sed -n 's/^port //p' http2.port)
P3=$(sed -n 's/^port //p' http3.port)
sign() { # VERSION FILE PORT SEQ OUT
	"$FM" sign --key signing.pem --component firmware --version "$1" \
		--hardware thermo-v2 --file "$2" \
		--url "http://127.0.0.1:$3/artifacts/$2" --seq "$4" --ttl 1d \
		--out "$5"
}
sign 2.0.0 fw-2.0.0.bin "$P2" 2 m2.json
sign 3.0.0 fw-3.0.0.bin "$P3" 3 m3.json

# offer_all JOB MANIFEST: one offer per device, as fleetd would send it.
offer_all() {
	now=$(date +%s)
	i=1
	while [ $i -le $N ]; do
		id=$(printf 'thermo-%06d' $i)
		printf '%s\n' "{\"type\":\"offer\",\"job\":$1,\"issued\":$now,\"expires\":$((now + 3600)),\"manifest\":$(cat "$2"),\"health\":{\"window_s\":3,\"limits\":[{\"metric\":\"crashes\",\"max\":0}]}}" |
			mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 \
				-t "fleet/v1/dev/$id/cmd" \
				-D publish message-expiry-interval 3600 -s
		i=$((i + 1))
	done
}

# run_sim SECONDS [OPTIONS]: the same fleet (its flash lives in fleet-sim's
# memory, so each step starts it again from the factory image).
run_sim() {
	secs=$1
	shift
	"$SIM" --broker "mqtt://127.0.0.1:$MQ_PORT" --count $N \
		--prefix thermo --model thermo-v2 --labels site=lyon \
		--version 1.0.0 --image fw-1.0.0.bin --seq 1 --key signing.pub \
		--reboot-ms 300 --duration "$secs" \
		--seed 7 "$@" >sim.out 2>sim.err &
	sim=$!
	pids="$pids $sim"
	i=0
	until [ "$(mosquitto_sub -h 127.0.0.1 -p "$MQ_PORT" -t 'fleet/v1/dev/+/presence' \
		-W 1 2>/dev/null | grep -c '"online":true')" -ge $N ]; do
		i=$((i + 1))
		[ $i -lt 30 ] || break
	done
}

# finish JOB RESULT: once every device has reported JOB ended with RESULT
# (or fleet-sim's --duration is up), stop fleet-sim: it prints its summary.
finish() {
	i=0
	while kill -0 "$sim" 2>/dev/null; do
		n=$(grep "\"job\":$1,.*\"result\":\"$2\"" status.log 2>/dev/null |
			cut -d' ' -f1 | sort -u | wc -l)
		[ "$n" -lt $N ] || break
		sleep 0.2
	done
	sleep 0.5
	kill -TERM "$sim" 2>/dev/null || true
	wait "$sim" || true
}
mosquitto_sub -h 127.0.0.1 -p "$MQ_PORT" -q 1 -v \
	-t 'fleet/v1/dev/+/status' >status.log 2>/dev/null &
pids="$pids $!"

say "\$ fleet-sim --count $N --model thermo-v2 --version 1.0.0 --power-cut-rate 0.25 ..."
say "\$ for each device: mosquitto_pub -t fleet/v1/dev/ID/cmd -m '{\"type\":\"offer\",\"job\":1001,...2.0.0...}'"
run_sim 25 --power-cut-rate 0.25
offer_all 1001 m2.json
finish 1001 success
cat sim.out
echo

say "\$ fleet-sim ... --bad-version 3.0.0   (3.0.0 does not start on this hardware)"
say "\$ for each device: mosquitto_pub ... offer of 3.0.0 (job 1002)"
run_sim 25 --bad-version 3.0.0
offer_all 1002 m3.json
finish 1002 reverted
cat sim.out
say "(every device tried 3.0.0 on trial, found it unhealthy and went back by"
say " itself: the boot loader never committed the bad image)"
