# shellcheck shell=sh
# agent_lib.sh -- what the fleet_agent*.sh tests share, sourced by each
# after its usage check:
#
#   LIB_PIDS="agent_pid sub_pid ..."   variables holding pids, stopped in
#                                      this order at exit
#   LIB_LOGS="agent.log sub.log ..."   logs whose tails `fail` prints
#   lib_start                          a temporary folder ($tmp, kept with
#                                      FL_TEST_KEEP), the pids cleared, the
#                                      exit trap set, the shell in $tmp
#
# A script may define lib_cleanup_hook, run at exit before the pids are
# stopped. Also: abs, stop_pid, fail, wait_for, lines, digest.

abs() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}

stop_pid() {
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill "$1" 2>/dev/null
		wait "$1" 2>/dev/null
	fi
}

lib_cleanup() {
	if command -v lib_cleanup_hook >/dev/null 2>&1; then
		lib_cleanup_hook
	fi
	for v in $LIB_PIDS; do
		eval "stop_pid \"\${$v}\""
	done
	if [ -n "${FL_TEST_KEEP:-}" ]; then
		echo "kept: $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}

lib_start() {
	tmp=$(mktemp -d)
	for v in $LIB_PIDS; do
		eval "$v=''"
	done
	trap lib_cleanup EXIT
	trap 'exit 1' INT TERM
	cd "$tmp" || exit 1
}

fail() {
	echo "FAIL: $*" >&2
	for f in $LIB_LOGS; do
		if [ -s "$f" ]; then
			echo "--- $f (tail)" >&2
			tail -25 "$f" >&2
		fi
	done
	exit 1
}

# wait_for FILE REGEX [SECONDS] [FROM_LINE]: until a line of FILE (after
# line FROM_LINE) matches.
wait_for() {
	n=0
	limit=$((${3:-30} * 10))
	from=${4:-0}
	while [ $n -lt $limit ]; do
		if [ -f "$1" ] && tail -n +$((from + 1)) "$1" | grep -Eq -- "$2"; then
			return 0
		fi
		sleep 0.1
		n=$((n + 1))
	done
	fail "no line matching '$2' in $1 after ${3:-30} s"
}

lines() {
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# The device's persistent state: every byte of every file in state/.
digest() {
	find state -type f | sort | xargs cat | sha256sum | cut -d' ' -f1
}
