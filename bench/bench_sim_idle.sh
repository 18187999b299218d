#!/bin/sh
# bench_sim_idle.sh -- what an idle simulated device costs: fleet-sim with
# N devices (default 10,000) connected to one local mosquitto, resident
# memory per device and CPU while idle.
#
#   bench_sim_idle.sh FLEET_SIM [N] [IDLE_S]
#
# Starts mosquitto on a free loopback port (no connection limit, and a
# descriptor limit raised to the hard one, which must exceed N), runs a
# baseline fleet-sim with one device per worker process (the same
# processes, the same factory image), then fleet-sim --count N; waits until
# every device is connected (its --progress lines), sums VmRSS over the
# fleet-sim processes (parent and workers), subtracts the baseline and
# divides by the extra devices; then measures the CPU time the processes
# use over IDLE_S seconds (default 30) of idling (health reports every
# 60 s, keep-alives every 120 s, the agents' polls every second). Prints
# the figures and the ratio to the 16 KiB target. Exit 0 when it could
# measure, 1 otherwise (the target is reported, not enforced).
set -u
[ $# -ge 1 ] || { echo "usage: $0 FLEET_SIM [N] [IDLE_S]" >&2; exit 2; }
SIM=$1
N=${2:-10000}
IDLE_S=${3:-30}
PER=5000
TARGET_KIB=16
TICK=$(getconf CLK_TCK)
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -le $((N + 100)) ]; then
	echo "bench_sim_idle: descriptor limit $NOFILE too low for $N" \
		"connections on one broker" >&2
	exit 1
fi

tmp=$(mktemp -d)
mq_pid=""
sim_pid=""
cleanup() {
	[ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	[ -n "$mq_pid" ] && kill -TERM "$mq_pid" 2>/dev/null && wait "$mq_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A free port: try a few at random until mosquitto holds one.
for try in 1 2 3 4 5 6 7 8; do
	PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
	cat >"$tmp/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
max_connections -1
persistence false
EOF
	"$MOSQUITTO" -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
	mq_pid=$!
	sleep 0.5
	if kill -0 "$mq_pid" 2>/dev/null; then
		break
	fi
	mq_pid=""
done
[ -n "$mq_pid" ] || { echo "bench_sim_idle: mosquitto did not start" >&2; exit 1; }

# pids of a fleet-sim and its workers
pids_of() {
	echo "$1"
	pgrep -P "$1" 2>/dev/null
}

rss_kib() {
	total=0
	for p in $(pids_of "$1"); do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		total=$((total + ${r:-0}))
	done
	echo "$total"
}

cpu_ticks() {
	total=0
	for p in $(pids_of "$1"); do
		# utime and stime: fields 14 and 15, after the ")" of comm
		t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
			awk '{ print $12 + $13 }')
		total=$((total + ${t:-0}))
	done
	echo "$total"
}

# start_sim COUNT LOG: runs fleet-sim in the background (sets sim_pid)
# and waits until COUNT devices are connected; the seconds it took go to
# $tmp/connect_s. (Not in a subshell: sim_pid must stay set.)
start_sim() {
	t0=$(date +%s.%N)
	"$SIM" --broker "mqtt://127.0.0.1:$PORT" --count "$1" --prefix "b$1" \
		--per-process "$PER" --progress-ms 1000 --duration 3600 \
		>"$2.out" 2>"$2" &
	sim_pid=$!
	deadline=$(($(date +%s) + 600))
	while :; do
		if ! kill -0 "$sim_pid" 2>/dev/null; then
			echo "bench_sim_idle: fleet-sim exited:" >&2
			tail -5 "$2" >&2
			exit 1
		fi
		c=$(grep -o 'connected=[0-9]*' "$2" | tail -1 | cut -d= -f2)
		[ "${c:-0}" -ge "$1" ] && break
		if [ "$(date +%s)" -gt "$deadline" ]; then
			echo "bench_sim_idle: only ${c:-0} of $1 connected" >&2
			exit 1
		fi
		sleep 0.5
	done
	echo "$(date +%s.%N) $t0" | awk '{ printf "%.1f", $1 - $2 }' \
		>"$tmp/connect_s"
}

stop_sim() {
	kill -TERM "$sim_pid" 2>/dev/null
	wait "$sim_pid" 2>/dev/null
	sim_pid=""
}

# fleet-sim's own rule: at most (limit - 128) / 4 devices per process.
if [ "$NOFILE" != unlimited ] && [ $(((NOFILE - 128) / 4)) -lt "$PER" ]; then
	PER=$(((NOFILE - 128) / 4))
fi
WORKERS=$(((N + PER - 1) / PER))
[ "$WORKERS" -ge 1 ] || WORKERS=1

# Baseline: one device per process, the same process layout.
BASE_PER=$PER
PER=1
[ "$WORKERS" -eq 1 ] && PER=$BASE_PER
start_sim "$WORKERS" "$tmp/base.log"
PER=$BASE_PER
sleep 2
BASE=$(rss_kib "$sim_pid")
stop_sim

start_sim "$N" "$tmp/run.log"
CONNECT_S=$(cat "$tmp/connect_s")
sleep 3 # let the connection storm's buffers settle
RSS=$(rss_kib "$sim_pid")
MQ_RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$mq_pid/status")
C0=$(cpu_ticks "$sim_pid")
M0=$(sed 's/.*) //' "/proc/$mq_pid/stat" | awk '{ print $12 + $13 }')
sleep "$IDLE_S"
C1=$(cpu_ticks "$sim_pid")
M1=$(sed 's/.*) //' "/proc/$mq_pid/stat" | awk '{ print $12 + $13 }')
CONNECTED=$(grep -o 'connected=[0-9]*' "$tmp/run.log" | tail -1 | cut -d= -f2)
stop_sim

awk -v n="$N" -v w="$WORKERS" -v rss="$RSS" -v base="$BASE" \
	-v c0="$C0" -v c1="$C1" -v m0="$M0" -v m1="$M1" -v tick="$TICK" \
	-v idle="$IDLE_S" -v target="$TARGET_KIB" -v mq="$MQ_RSS" \
	-v conn="$CONNECT_S" -v connected="$CONNECTED" 'BEGIN {
	per = (rss - base) / (n - w)
	cpu = (c1 - c0) / tick
	printf "fleet-sim idle: %d devices in %d worker process(es), %d " \
	       "connected after %.1f s\n", n, w, connected, conn
	printf "  resident: %.1f MiB, baseline %.1f MiB (%d devices)\n",
	       rss / 1024, base / 1024, w
	printf "  per device: %.2f KiB (target %d KiB, ratio %.2f)\n",
	       per, target, per / target
	printf "  CPU while idle: %.2f s over %d s (%.1f %% of one core, " \
	       "%.1f ms per 1000 devices per second)\n",
	       cpu, idle, 100 * cpu / idle, 1000 * cpu / idle / (n / 1000)
	printf "  mosquitto: %.1f MiB resident, %.2f s CPU over the same %d s\n",
	       mq / 1024, (m1 - m0) / tick, idle
}'
