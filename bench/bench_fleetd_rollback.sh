#!/bin/sh
# bench_fleetd_rollback.sh -- fleetd rolling a fleet back: the time from
# the report that fails a gate to the last of N devices acknowledging its
# rollback command (target: under 1 s), and fleetd's resident memory per
# device.
#
#   bench_fleetd_rollback.sh FLEETD FLEETCTL FLEET_SIM WATCH FREE_PORT
#                            JSON_GET [N] [PROBES]
#
# fleetd with its embedded mosquitto (--insecure: plain MQTT and HTTP, so
# the devices need no certificates), a temporary data folder. fleet-sim
# runs N devices (default 10,000; ring=main, worker processes of 5,000)
# and PROBES more (default 40; ring=probe) on which 2.0.0 fails its
# health check (--bad-version). The plan: stage `main` (ring main; offers
# at 200 a second and a soak, so a trial, of 60 s: N devices rebooting at
# once into their trial reconnect all at once, with backoff, and a trial
# that cannot reach the broker fails) then `probe` (the rest; soak 2 s),
# max_failure_rate 10 %, min_devices 5.
# The N devices install 2.0.0 and confirm it, `main` passes; the probes fail,
# the gate of `probe` trips, and fleetd rolls back every device that has
# 2.0.0: the N of `main` (which switch back to their other slot, no
# download) and the probes still on trial.
#
# The stopwatch is WATCH (bench_fleetd_watch.c), a subscriber on every
# device's status topic. t0 is when the report that failed the gate went
# by: fleetd's event log names it (the input just before the
# rollback_started decision: device and job), WATCH timed it. The
# rollback jobs are the log's rollback_device decisions (device and job);
# a job's acknowledgement is the device's first status of it (the device
# took the command). The figure: last acknowledgement - t0, for every
# rollback job fleetd decided (at least N). WATCH_CMDS=1 also subscribes
# WATCH to every device's cmd topic and prints when the first and last
# rollback command went by: the broker then copies every command to WATCH
# too, work that is the stopwatch's, not fleetd's (about a tenth more).
#
# Memory: fleetd's VmRSS with no device (after start) and with the N +
# PROBES devices known and members of the running rollout (once `main`
# has passed), and VmHWM at the end; per device = the difference / N.
# CPU: fleetd's and mosquitto's user+system seconds from `main` passed to
# the end (mostly the rollback). PUBLISHERS=K sets fleetd's
# mqtt_publishers (default: fleetd's, 8; 0 sends on the main connection).
# REBOOT_MS=MS sets the devices' reboot time (default 200: a fast
# microcontroller; the reconnections of the devices that took their
# rollback then fall inside the measured second).
# About 3 minutes on two cores, most of it 10,000 devices connecting,
# installing and on trial.
set -u
[ $# -ge 6 ] || {
	echo "usage: $0 FLEETD FLEETCTL FLEET_SIM WATCH FREE_PORT JSON_GET [N] [PROBES]" >&2
	exit 2
}
FLEETD=$1
FLEETCTL=$2
SIM=$3
WATCH=$4
FREE_PORT=$5
JG=$6
N=${7:-10000}
PROBES=${8:-40}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] &&
	[ "$(ulimit -n)" -le $((N + PROBES + 200)) ]; then
	echo "bench_fleetd_rollback: descriptor limit $(ulimit -n) too low" \
		"for $N devices on one broker" >&2
	exit 1
fi

tmp=$(mktemp -d)
pids=""
fleetd_pid=""
watch_pid=""
cleanup() {
	# fleet-sim first, then fleetd (which stops its broker)
	for p in $pids $watch_pid $fleetd_pid; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$tmp" || exit 1

die() {
	echo "bench_fleetd_rollback: $*" >&2
	[ ! -s fleetd.log ] || tail -5 fleetd.log >&2
	exit 1
}
ms() { echo $(($(date +%s%N) / 1000000)); }
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# user+system CPU of a process in clock ticks (0 if gone)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

API_PORT=$("$FREE_PORT")
BROKER_PORT=$("$FREE_PORT")
cat >fleetd.yaml <<EOF
data: $tmp/data
listen: 127.0.0.1:$API_PORT
broker: embedded
broker_port: $BROKER_PORT
mosquitto: $MOSQUITTO
insecure: true
offer_ttl: 1h
EOF
[ -z "${PUBLISHERS:-}" ] || echo "mqtt_publishers: $PUBLISHERS" >>fleetd.yaml
"$FLEETD" --config fleetd.yaml >fleetd.out 2>fleetd.log &
fleetd_pid=$!
i=0
until grep -q 'mqtt: connected' fleetd.log 2>/dev/null; do
	kill -0 "$fleetd_pid" 2>/dev/null || die "fleetd did not start"
	i=$((i + 1))
	[ $i -lt 300 ] || die "fleetd did not start within 30 s"
	sleep 0.1
done
server=http://127.0.0.1:$API_PORT
[ ! -f data/admin.token ] || export FLEET_TOKEN_FILE="$tmp/data/admin.token"
fleetctl() { "$FLEETCTL" --server "$server" "$@"; }
sleep 2
RSS0=$(rss "$fleetd_pid" VmRSS)

if [ -n "${WATCH_CMDS:-}" ]; then
	"$WATCH" "$BROKER_PORT" watch.txt cmds 2>watch.err &
else
	"$WATCH" "$BROKER_PORT" watch.txt 2>watch.err &
fi
watch_pid=$!

T_START=$(ms)
"$SIM" --broker "mqtt://127.0.0.1:$BROKER_PORT" --count "$N" --prefix g \
	--model bench-m --labels ring=main --version 1.0.0 --image-size 4096 \
	--key data/keys/signing.pub --reboot-ms "${REBOOT_MS:-200}" --health-interval 60 \
	--connect-rate 2000 --per-process 5000 --progress-ms 1000 \
	--duration 3600 >sim-main.out 2>sim-main.err &
pids="$!"
"$SIM" --broker "mqtt://127.0.0.1:$BROKER_PORT" --count "$PROBES" \
	--prefix p --model bench-m --labels ring=probe --version 1.0.0 \
	--image-size 4096 --key data/keys/signing.pub --reboot-ms 200 \
	--health-interval 1 --bad-version 2.0.0 --seed 3 --duration 3600 \
	>sim-probe.out 2>sim-probe.err &
pids="$pids $!"

# every device known to fleetd (the summary line of `fleetctl devices`)
end=$(($(date +%s) + 300))
while :; do
	known=$(fleetctl --json devices --online 2>/dev/null |
		"$JG" 'devices.#' 2>/dev/null)
	[ "${known:-0}" -lt $((N + PROBES)) ] || break
	[ "$(date +%s)" -lt $end ] ||
		die "only ${known:-0} of $((N + PROBES)) devices online after 300 s"
	sleep 2
done
T_ONLINE=$(ms)

head -c 65536 /dev/urandom >fw-2.0.0.bin
cat >bench-rb.yaml <<EOF
rollout: bench-rb
artifact:
  version: 2.0.0
  file: fw-2.0.0.bin
  hardware: [bench-m]
  encrypt: false   # insecure: the devices have no wrap keys
health:
  soak: 2s
  max_failure_rate: 10%
  min_devices: 5
  timeout: 10m
  on_failure: rollback
stages:
  - name: main
    match: {ring: main}
    soak: 60s
    rate: 200/s
  - name: probe
    percent: 100
EOF
fleetctl rollout start bench-rb.yaml >start.out 2>&1 ||
	die "rollout start: $(cat start.out)"
T_ROLLOUT=$(ms)

# `main` passed: every device is a member of the running rollout
RSS1=""
end=$(($(date +%s) + 600))
while :; do
	# a loaded machine may make an answer late: asked again
	if ! fleetctl --json rollout status bench-rb >status.json 2>/dev/null
	then
		[ "$(date +%s)" -lt $end ] || die "fleetd does not answer"
		sleep 1
		continue
	fi
	state=$("$JG" state <status.json)
	main=$("$JG" stages.0.state <status.json)
	if [ -z "$RSS1" ] && [ "$main" != pending ] &&
		[ "$main" != running ]; then
		RSS1=$(rss "$fleetd_pid" VmRSS)
		T_MAIN=$(ms)
		mosq_pid=$(ps -o pid= --ppid "$fleetd_pid" | head -1 | tr -d ' ')
		CPU_F0=$(cpu "$fleetd_pid")
		CPU_M0=$(cpu "${mosq_pid:-0}")
		[ "$main" = passed ] || die "stage main ended $main"
	fi
	case $state in
	rolled_back) break ;;
	complete | cancelled) die "bench-rb ended $state" ;;
	esac
	[ "$(date +%s)" -lt $end ] || die "bench-rb still $state after 600 s"
	sleep 1
done
T_ROLLED=$(ms)
[ -n "$RSS1" ] || die "bench-rb rolled back before main passed"

# every rollback command acknowledged (or 60 s)
sent=$("$JG" rollback.sent <status.json)
pending=1
i=0
while [ $i -lt 120 ]; do
	fleetctl --json rollout status bench-rb >status.json 2>/dev/null &&
		pending=$("$JG" rollback.pending <status.json)
	[ "${pending:-1}" -gt 0 ] || break
	i=$((i + 1))
	sleep 0.5
done
sleep 2
kill -TERM "$watch_pid"
wait "$watch_pid" || die "the watcher failed: $(cat watch.err)"
watch_pid=""
HWM=$(rss "$fleetd_pid" VmHWM)
CPU_F1=$(cpu "$fleetd_pid")
CPU_M1=$(cpu "${mosq_pid:-0}")

# The report that failed the gate: among the failures applied before the
# step that decided the rollback (the log records a step's inputs, then
# the step, then its decisions), the earliest as WATCH saw it: t0.
fleetctl --json events bench-rb >events.json 2>/dev/null ||
	die "fleetctl events failed"
awk '
	/"kind":"note\.step"/ {
		for (k = 1; k <= n; k++)
			step[k] = inputs[k]
		ns = n; n = 0; next
	}
	/"kind":"report\.(reverted|failed|rejected|timed_out)"/ {
		d = $0; sub(/.*"device":"/, "", d); sub(/".*/, "", d)
		j = $0; sub(/.*"job":/, "", j); sub(/[^0-9].*/, "", j)
		inputs[++n] = d " " j
		next
	}
	/"kind":"decision\.rollback_started"/ {
		for (k = 1; k <= ns; k++)
			print step[k]
		exit
	}' events.json >gate.txt
[ -s gate.txt ] || die "no failing report before the rollback in the log"
# the rollback jobs: device and job of each rollback_device decision
awk '/"kind":"decision\.rollback_device"/ {
	d = $0; sub(/.*"device":"/, "", d); sub(/".*/, "", d)
	j = $0; sub(/.*"job":/, "", j); sub(/[^0-9].*/, "", j)
	print d " " j
}' events.json | sort -u >rbjobs.txt
[ -s rbjobs.txt ] || die "no rollback job in the log"

printf 'fleetd rollback: %d devices in stage main, %d probes (2.0.0 bad)\n' \
	"$N" "$PROBES"
awk -v t0="$T_START" -v on="$T_ONLINE" -v ro="$T_ROLLOUT" -v mn="$T_MAIN" \
	-v rb="$T_ROLLED" -v sent="$sent" 'BEGIN {
	printf "  all online %.1f s after the start; main passed %.1f s " \
	       "after the rollout start; fleetd reported rolled_back %.1f s " \
	       "later (%s rollbacks sent)\n",
	       (on - t0) / 1000, (mn - ro) / 1000, (rb - mn) / 1000, sent }'
awk -v n="$N" '
	FILENAME == ARGV[1] { gate[$1 " " $2] = 1; next }
	FILENAME == ARGV[2] { rb[$1 " " $2] = 1; c++; next }
	$1 == "F" && (($3 " " $4) in gate) {
		if (t0 == "" || $2 < t0) { t0 = $2; who = $3 " job " $4 " (" $5 ")" }
	}
	$1 == "S" && (($3 " " $4) in rb) && !(($3 " " $4) in ack) {
		a++; ack[$3 " " $4] = $2; if ($2 > a2) a2 = $2
	}
	$1 == "C" {
		if (c1 == "" || $2 < c1) c1 = $2
		if ($2 > c2) c2 = $2
	}
	END {
		if (t0 == "") { print "  the failing report was not seen"; exit 1 }
		printf "  the report that failed the gate: %s\n", who
		printf "  rollback jobs: %d (%d not acknowledged)\n", c, c - a
		if (c1 != "")
			printf "  first command %d ms after it, last %d ms\n",
			       c1 - t0, c2 - t0
		printf "  last of the %d acknowledged: %d ms after it " \
		       "(target < 1000 ms, ratio %.2f)\n",
		       a, a2 - t0, (a2 - t0) / 1000
		if (c < n || a < c) exit 1
	}' gate.txt rbjobs.txt watch.txt || rc=1

awk -v r0="$RSS0" -v r1="$RSS1" -v h="$HWM" -v n="$N" -v p="$PROBES" 'BEGIN {
	printf "  fleetd resident: %.1f MiB with no device, %.1f MiB with " \
	       "%d devices in the running rollout, peak %.1f MiB\n",
	       r0 / 1024, r1 / 1024, n + p, h / 1024
	printf "  per device: %.2f KiB (peak - empty: %.2f KiB)\n",
	       (r1 - r0) / (n + p), (h - r0) / (n + p) }'
awk -v f="$((CPU_F1 - CPU_F0))" -v m="$((CPU_M1 - CPU_M0))" \
	-v hz="$(getconf CLK_TCK)" -v k="${PUBLISHERS:-default}" 'BEGIN {
	printf "  CPU from main passed to the end: fleetd %.2f s, " \
	       "mosquitto %.2f s (mqtt_publishers %s)\n", f / hz, m / hz, k }'
exit "${rc:-0}"
