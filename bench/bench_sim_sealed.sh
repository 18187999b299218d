#!/bin/sh
# bench_sim_sealed.sh -- what an encrypted install costs fleet-sim: N
# devices (default 200) install the same MIB-MiB image (default 1; half
# random, half repetitive), once plain and once encrypted (zstd, chunks of
# 16 KiB, the content key wrapped for a group every device holds), each
# from a fresh fleet-sim on one local mosquitto and a local HTTP server.
#
#   bench_sim_sealed.sh FLEET_SIM FLEET_MANIFEST HTTP_RANGE_SERVER FREE_PORT
#                       MOSQUITTO [N] [MIB]
#
# For each run: the CPU time of the fleet-sim process from the offers to
# the moment every device has committed (its --progress lines say
# success=N), and its resident memory then. Every device runs the whole
# path itself (unwrap, authenticate, decrypt, decompress, write, the
# slot's SHA-256); the difference between the runs, per device and per
# MiB of image, is what encryption costs. Exit 0 when it could measure, 1
# otherwise. Figures on a shared machine vary; run it on a quiet one.
set -u
[ $# -ge 5 ] || {
	echo "usage: $0 FLEET_SIM FLEET_MANIFEST HTTP_RANGE_SERVER FREE_PORT MOSQUITTO [N] [MIB]" >&2
	exit 2
}
abs() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}
SIM=$(abs "$1")
FM=$(abs "$2")
HTTPD=$(abs "$3")
FREE_PORT=$(abs "$4")
MOSQUITTO=$5
N=${6:-200}
MIB=${7:-1}
TICK=$(getconf CLK_TCK)

tmp=$(mktemp -d)
mq_pid=""
http_pid=""
sim_pid=""
stop_pid() {
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill "$1" 2>/dev/null
		wait "$1" 2>/dev/null
	fi
}
cleanup() {
	stop_pid "$sim_pid"
	stop_pid "$http_pid"
	stop_pid "$mq_pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$tmp" || exit 1
fail() {
	echo "bench_sim_sealed: $*" >&2
	exit 1
}

MQ_PORT=$("$FREE_PORT") || fail "no free port"
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' \
	"$MQ_PORT" >mq.conf
"$MOSQUITTO" -c mq.conf >mq.log 2>&1 &
mq_pid=$!
n=0
until mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -t probe -n 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "mosquitto does not start"
	sleep 0.1
done

BYTES=$((MIB * 1048576))
"$FM" keygen --out signing.pem >/dev/null || fail keygen
"$FM" pubkey signing.pem >signing.pub || fail pubkey
"$FM" wrapkey --out group.pem >/dev/null || fail wrapkey
"$FM" pubkey group.pem >group.pub || fail "pubkey group"
head -c 65536 /dev/urandom >fw-1.0.0.bin
{
	head -c $((BYTES / 2)) /dev/urandom
	yes "fleet firmware 2.0.0" | head -c $((BYTES - BYTES / 2))
} >fw-2.0.0.bin
"$FM" seal --in fw-2.0.0.bin --out fw-2.0.0.flec --key-out fw-2.0.0.key \
	--zip zstd --chunk 16384 >/dev/null || fail seal
ENC=$(wc -c <fw-2.0.0.flec | tr -d ' ')

# pids of a fleet-sim and its workers
pids_of() {
	echo "$1"
	pgrep -P "$1" 2>/dev/null
}
cpu_ticks() {
	total=0
	for p in $(pids_of "$1"); do
		t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		total=$((total + ${t:-0}))
	done
	echo "$total"
}
rss_kib() {
	total=0
	for p in $(pids_of "$1"); do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		total=$((total + ${r:-0}))
	done
	echo "$total"
}
wait_log() { # FILE REGEX SECONDS
	n=0
	while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
		kill -0 "$sim_pid" 2>/dev/null || fail "fleet-sim exited: $(tail -3 "$1")"
		n=$((n + 1))
		[ $n -lt $(($3 * 10)) ] || fail "no '$2' in $1 after $3 s"
		sleep 0.1
	done
}

# run NAME FILE [fleet-sim options...]: prints "cpu_s rss_kib wall_s"
run() {
	name=$1
	file=$2
	shift 2
	"$HTTPD" --file "$file" --port 0 --log "http-$name.log" >"http-$name.port" 2>&1 &
	http_pid=$!
	n=0
	until grep -q '^port ' "http-$name.port" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 50 ] || fail "the HTTP server does not start"
		sleep 0.1
	done
	port=$(sed -n 's/^port //p' "http-$name.port")
	if [ "$name" = sealed ]; then
		"$FM" sign --key signing.pem --component firmware --version 2.0.0 \
			--hardware bench --file fw-2.0.0.bin --sealed fw-2.0.0.flec \
			--url "http://127.0.0.1:$port/fw.flec" --seq 2 \
			--out "m-$name.json" >/dev/null || fail sign
		key=$("$FM" wrap --content-key fw-2.0.0.key --manifest "m-$name.json" \
			--to group.pub --name all) || fail wrap
		extra=",\"key\":\"$key\""
	else
		"$FM" sign --key signing.pem --component firmware --version 2.0.0 \
			--hardware bench --file fw-2.0.0.bin \
			--url "http://127.0.0.1:$port/fw.bin" --seq 2 \
			--out "m-$name.json" >/dev/null || fail sign
		extra=""
	fi
	"$SIM" --broker "mqtt://127.0.0.1:$MQ_PORT" --count "$N" --prefix "$name" \
		--model bench --image fw-1.0.0.bin --key signing.pub \
		--slot-size $((BYTES + 65536)) --reboot-ms 100 --progress-ms 500 \
		--duration 3600 "$@" >"sim-$name.out" 2>"sim-$name.log" &
	sim_pid=$!
	wait_log "sim-$name.log" " connected=$N " 120
	sleep 1
	now=$(date +%s)
	cmd="{\"type\":\"offer\",\"job\":1,\"issued\":$now,\"expires\":$((now + 3600)),\"manifest\":$(cat "m-$name.json")$extra,\"health\":{\"window_s\":1}}"
	c0=$(cpu_ticks "$sim_pid")
	t0=$(date +%s.%N)
	i=1
	while [ $i -le "$N" ]; do
		printf 'fleet/v1/dev/%s-%06d/cmd\n' "$name" $i
		i=$((i + 1))
	done >topics
	while read -r topic; do
		mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$MQ_PORT" -q 1 -t "$topic" \
			-D publish message-expiry-interval 3600 -m "$cmd" ||
			fail "mosquitto_pub"
	done <topics
	wait_log "sim-$name.log" " success=$N( |$)" 600
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$sim_pid")
	rss=$(rss_kib "$sim_pid")
	stop_pid "$sim_pid"
	sim_pid=""
	stop_pid "$http_pid"
	http_pid=""
	echo "$(((c1 - c0) * 1000 / TICK)) $rss $t0 $t1"
}

set -- $(run plain fw-2.0.0.bin)
P_MS=$1 P_RSS=$2 P_T=$(echo "$4 $3" | awk '{ printf "%.1f", $1 - $2 }')
set -- $(run sealed fw-2.0.0.flec --wrap-group "all=$tmp/group.pem")
S_MS=$1 S_RSS=$2 S_T=$(echo "$4 $3" | awk '{ printf "%.1f", $1 - $2 }')

awk -v n="$N" -v mib="$MIB" -v enc="$ENC" -v pms="$P_MS" -v sms="$S_MS" \
	-v prss="$P_RSS" -v srss="$S_RSS" -v pt="$P_T" -v st="$S_T" 'BEGIN {
	printf "fleet-sim, %d devices installing a %d MiB image (container %.2f MiB, zstd, 16 KiB chunks)\n",
	       n, mib, enc / 1048576
	printf "  plain:     %.2f s CPU (%.0f us per device per MiB), %.1f s wall, %.1f MiB resident after\n",
	       pms / 1000, pms * 1000 / n / mib, pt, prss / 1024
	printf "  encrypted: %.2f s CPU (%.0f us per device per MiB), %.1f s wall, %.1f MiB resident after\n",
	       sms / 1000, sms * 1000 / n / mib, st, srss / 1024
	printf "  encryption adds %.0f us per device per MiB (ratio %.2f), %.1f MiB resident\n",
	       (sms - pms) * 1000 / n / mib, sms / pms, (srss - prss) / 1024
}'
