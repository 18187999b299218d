#!/bin/sh
# fleet_agent_config.sh -- fleet-agent's configuration checks, run as an
# operator would:
#
#   fleet_agent_config.sh FLEET_AGENT FLEET_MANIFEST SOURCE_DIR
#
#   1. every bad configuration of tests/integration/fleet_agent_bad/
#      (one mistake each) exits 1 with exactly its .expected on stderr
#      (FILE:LINE:COL: error: MESSAGE), nothing on stdout, and nothing
#      created;
#   2. usage errors exit 2 with the usage; --help exits 0; a missing
#      configuration file exits 1 with its reason;
#   3. a minimal configuration and examples/fleet-agent.yaml (its absolute
#      paths moved into a temporary folder holding the files it names)
#      pass --check.
#
# Exit 0 when every check holds, 1 at the first that does not.
set -u
[ $# -eq 3 ] || {
	echo "usage: $0 FLEET_AGENT FLEET_MANIFEST SOURCE_DIR" >&2
	exit 2
}
abs() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}
A=$(abs "$1")
FM=$(abs "$2")
SRC=$(abs "$3")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in out err; do
		if [ -s "$tmp/$f" ]; then
			echo "--- std$f:" >&2
			head -20 "$tmp/$f" >&2
		fi
	done
	exit 1
}

# run WANT CMD...: stdout in $tmp/out, stderr in $tmp/err.
run() {
	want=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "\`$*\` exited $rc, want $want"
}

# 1. bad configurations
cd "$SRC/tests/integration/fleet_agent_bad" || fail "no fleet_agent_bad"
n=0
for y in *.yaml; do
	b=${y%.yaml}
	[ -f "$b.expected" ] || fail "$y has no $b.expected"
	run 1 "$A" --config "$y"
	# A checkout's file modes follow its umask (0644 or 0664): the mode
	# a message quotes is compared as a pattern.
	sed 's/(mode 06[46]4)/(mode 06X4)/' "$tmp/err" >"$tmp/err.n" &&
		mv "$tmp/err.n" "$tmp/err"
	cmp -s "$tmp/err" "$b.expected" ||
		fail "$y: stderr differs from $b.expected: $(diff "$b.expected" "$tmp/err" | head -6)"
	[ -s "$tmp/out" ] && fail "$y: something on stdout"
	n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n bad configurations"
for f in flash.img agent.state reboot-requested; do
	[ -e "$f" ] && fail "a bad configuration created $f"
done

# 2. usage
cd "$tmp" || exit 1
for args in "" "--config" "--bogus" "--config x.yaml --what" "--config="; do
	# shellcheck disable=SC2086
	run 2 "$A" $args
	grep -q '^usage: fleet-agent --config FILE' "$tmp/err" ||
		fail "no usage for '$args'"
done
run 0 "$A" --help
run 1 "$A" --config missing.yaml
[ "$(cat "$tmp/err")" = "missing.yaml:1:1: error: cannot read: No such file or directory" ] ||
	fail "missing file: $(cat "$tmp/err")"

# 3. good configurations
"$FM" keygen --out k1.pem >/dev/null || fail "keygen"
"$FM" keygen --out k2.pem >/dev/null || fail "keygen"
"$FM" pubkey k1.pem >k1.pub || fail "pubkey"
mkdir state
cat >min.yaml <<EOF
device:
  id: dev-1
  model: acme-gw-2
broker:
  host: 127.0.0.1
state:
  dir: state
flash:
  backend: file
  path: state/flash.img
  slot_bytes: 65536
keys:
  - k1.pub
EOF
run 0 "$A" --config min.yaml --check
[ "$(cat "$tmp/out")" = "min.yaml: ok" ] || fail "no ok line"
[ -e state/flash.img ] && fail "--check created the flash file"

# a PEM public key is taken too
openssl pkey -in k2.pem -pubout -out k2.pem.pub 2>/dev/null ||
	fail "openssl pkey"
sed 's/  - k1.pub/  - k1.pub\n  - file: k2.pem.pub\n    rollback: true/' \
	min.yaml >pem.yaml
run 0 "$A" --config pem.yaml --check
# the same key twice is refused
sed 's/  - k1.pub/  - k1.pub\n  - k1.pub/' min.yaml >twice.yaml
run 1 "$A" --config twice.yaml
grep -q 'the same key as another one' "$tmp/err" || fail "duplicate key"

# examples/fleet-agent.yaml, its absolute paths moved under $tmp/root
R=$tmp/root
sed "s# /# $R/#g" "$SRC/examples/fleet-agent.yaml" >example.yaml
mkdir -p "$R/etc/fleet-agent" "$R/var/lib/fleet-agent" "$R/dev"
for f in ca.pem dev-0001.crt dev-0001.key; do
	: >"$R/etc/fleet-agent/$f"
done
: >"$R/etc/fw_env.config"
: >"$R/dev/mmcblk0"
"$FM" pubkey k1.pem >"$R/etc/fleet-agent/fleetd.pub"
"$FM" pubkey k2.pem >"$R/etc/fleet-agent/release.pub"
"$FM" wrapkey --out "$R/etc/fleet-agent/dev-0001.wrap.pem" >/dev/null ||
	fail "wrapkey"
"$FM" wrapkey --out "$R/etc/fleet-agent/thermo.wrap.pem" >/dev/null ||
	fail "wrapkey"
run 0 "$A" --config example.yaml --check
echo "fleet_agent_config: $n bad configurations, usage and examples checked"
exit 0
