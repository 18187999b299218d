#!/bin/sh
# bench_fleetd_ingest.sh -- device reports per second that fleetd ingests
# and persists, against the broker's raw throughput for the same messages
# in the same run (target: at least 0.8 of raw).
#
#   bench_fleetd_ingest.sh FLEETD BENCH FREE_PORT [DEVICES] [HEALTH] [CONNS]
#
# Starts fleetd as docs/operations.md describes it (its embedded mosquitto,
# its store in a temporary data folder, synchronous FULL, its default
# report batching), with --insecure (plain MQTT, so that the raw subscriber
# and the publisher need no certificates), waits until its MQTT client is
# connected, then runs BENCH (bench_fleetd_ingest.c: the publisher, a raw
# subscriber and the store poller) and stops fleetd. Also prints the CPU
# time fleetd and its broker spent, and any message fleetd refused.
# Defaults: 10,000 devices, 6 health reports each, 4 connections (80,000
# messages). About 20 s.
set -u
[ $# -ge 3 ] || {
	echo "usage: $0 FLEETD BENCH FREE_PORT [DEVICES] [HEALTH] [CONNS]" >&2
	exit 2
}
FLEETD=$1
BENCH=$2
FREE_PORT=$3
DEVICES=${4:-10000}
HEALTH=${5:-6}
CONNS=${6:-4}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
TICK=$(getconf CLK_TCK)

tmp=$(mktemp -d)
fleetd_pid=""
cleanup() {
	[ -z "$fleetd_pid" ] || { kill -TERM "$fleetd_pid" 2>/dev/null &&
		wait "$fleetd_pid" 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cat >"$tmp/fleetd.yaml" <<EOF
data: $tmp/data
listen: 127.0.0.1:$("$FREE_PORT")
broker: embedded
broker_port: $("$FREE_PORT")
mosquitto: $MOSQUITTO
insecure: true
EOF
"$FLEETD" --config "$tmp/fleetd.yaml" >"$tmp/fleetd.out" 2>"$tmp/fleetd.log" &
fleetd_pid=$!
i=0
until grep -q 'mqtt: connected' "$tmp/fleetd.log" 2>/dev/null; do
	if ! kill -0 "$fleetd_pid" 2>/dev/null || [ $i -ge 300 ]; then
		echo "bench_fleetd_ingest: fleetd did not start:" >&2
		tail -5 "$tmp/fleetd.log" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 0.1
done
sleep 0.5 # its subscriptions
PORT=$(sed -n 's/.*broker mqtt:\/\/127.0.0.1:\([0-9]*\).*/\1/p' \
	"$tmp/fleetd.out")
MQ_PID=$(cat "$tmp/data/mosquitto/broker.pid")

cpu() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
F0=$(cpu "$fleetd_pid")
M0=$(cpu "$MQ_PID")
"$BENCH" "$PORT" "$tmp/data/fleet.db" "$DEVICES" "$HEALTH" "$CONNS"
rc=$?
F1=$(cpu "$fleetd_pid")
M1=$(cpu "$MQ_PID")
awk -v f="$((F1 - F0))" -v m="$((M1 - M0))" -v t="$TICK" 'BEGIN {
	printf "  CPU during the run: fleetd %.2f s, mosquitto %.2f s\n",
	       f / t, m / t }'
refused=$(grep -c 'dropped\|not taken\|error:' "$tmp/fleetd.log")
if [ "$refused" -gt 0 ]; then
	echo "  fleetd logged $refused refusals or errors:"
	grep 'dropped\|not taken\|error:' "$tmp/fleetd.log" | head -5
	rc=1
fi
exit $rc
