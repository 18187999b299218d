#!/bin/sh
# fleet_keys.sh -- the signing-key chain from the command line:
#
#   fleet_keys.sh FLEETD FLEET_MANIFEST
#
#   1. fleet-manifest: a root certifies a signing key (certify,
#      show-cert), sign --cert writes an envelope 2 that verify --root
#      takes and verify --pub (the signing key trusted directly) does not;
#      a key floor above its generation refuses it (revoked_key); a key
#      that the certificate does not name cannot sign with it; a floor
#      above the generation is a usage error;
#   2. fleetd keys: init makes the root (0600) and root.pub and certifies
#      fleetd's signing key as generation 1 (a second init is refused);
#      rotate makes generation 2 with floor 1 and replaces signing.pem
#      (0600); revoke makes generation 3 with floor 3; a manifest signed
#      with fleetd's key and its certificate verifies against root.pub,
#      one by generation 2 is refused at key floor 3; --root naming
#      another root is refused.
#
# Exit 0 when every check holds, 1 at the first that does not.
set -u
[ $# -eq 2 ] || {
	echo "usage: $0 FLEETD FLEET_MANIFEST" >&2
	exit 2
}
abs() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}
FLEETD=$(abs "$1")
FM=$(abs "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

fail() {
	echo "FAIL: $*" >&2
	[ -s out ] && tail -5 out >&2
	exit 1
}
mode() { stat -c %a "$1"; }

head -c 10000 /dev/urandom >img
sign() { # sign KEY CERT OUT
	"$FM" sign --key "$1" --cert "$2" --component firmware --version 1.2.3 \
		--hardware m1 --file img --url http://x/img --seq 5 --out "$3" \
		>out 2>&1
}

# 1. fleet-manifest
"$FM" keygen --out root.pem >/dev/null || fail "keygen"
"$FM" keygen --out s1.pem >/dev/null || fail "keygen"
"$FM" keygen --out s2.pem >/dev/null || fail "keygen"
"$FM" pubkey root.pem >root.pub || fail "pubkey"
"$FM" pubkey s1.pem >s1.pub || fail "pubkey"
"$FM" certify --root root.pem --key s1.pub --generation 4 --floor 2 \
	--roles release --out s1.cert >out 2>&1 || fail "certify"
grep -q '^generation: 4$' out || fail "certify output"
"$FM" show-cert s1.cert >out 2>&1 || fail "show-cert"
grep -q '^roles: release$' out || fail "show-cert roles"
sign s1.pem s1.cert m.json || fail "sign --cert"
grep -q '^{"v":2,' m.json || fail "not an envelope 2"
"$FM" verify --root root.pub m.json >out 2>&1 || fail "verify --root"
grep -q 'key generation 4 floor 2' out || fail "verify output"
"$FM" verify --pub s1.pub m.json >out 2>&1 && fail "verify --pub took it"
"$FM" verify --root root.pub --key-floor 5 m.json >out 2>&1 &&
	fail "a revoked generation verified"
grep -q 'revoked_key' out || fail "no revoked_key"
sign s2.pem s1.cert bad.json && fail "signed with a key not certified"
grep -q 'does not certify' out || fail "wrong key message"
"$FM" certify --root root.pem --key s1.pub --generation 2 --floor 3 \
	--out x.cert >out 2>&1
[ $? -eq 2 ] || fail "floor above generation not a usage error"

# 2. fleetd keys
D=data
"$FLEETD" keys init --data $D >out 2>&1 || fail "keys init"
[ "$(mode $D/keys/root.pem)" = 600 ] || fail "root.pem mode"
[ "$(mode $D/keys/signing.pem)" = 600 ] || fail "signing.pem mode"
grep -q 'generation 1, floor 1' out || fail "init: generation 1"
"$FLEETD" keys init --data $D >out 2>&1 && fail "a second init"
kid1=$(ls $D/keys/*.cert | head -1)
sign $D/keys/signing.pem "$kid1" g1.json || fail "sign with fleetd's key"
"$FM" verify --root $D/keys/root.pub g1.json >/dev/null 2>&1 ||
	fail "fleetd's generation 1 not taken"
cp $D/keys/signing.pem g1.pem
"$FLEETD" keys rotate --data $D >out 2>&1 || fail "rotate"
grep -q 'generation 2, floor 1' out || fail "rotate: generation 2"
cmp -s g1.pem $D/keys/signing.pem && fail "signing.pem not replaced"
[ "$(mode $D/keys/signing.pem)" = 600 ] || fail "rotated key mode"
cert2=$D/keys/$(grep -o 'signing key [0-9a-f]*' out | cut -d' ' -f3).cert
cp $D/keys/signing.pem g2.pem
sign g2.pem "$cert2" g2.json || fail "sign with generation 2"
"$FM" verify --root $D/keys/root.pub g2.json >/dev/null 2>&1 ||
	fail "generation 2 not taken"
"$FLEETD" keys revoke --data $D >out 2>&1 || fail "revoke"
grep -q 'generation 3, floor 3' out || fail "revoke: generation 3"
"$FM" verify --root $D/keys/root.pub --key-floor 3 g2.json >out 2>&1 &&
	fail "generation 2 taken after the revocation"
"$FLEETD" keys show --data $D >out 2>&1 || fail "show"
grep -q 'generation 3, floor 3' out || fail "show"
"$FLEETD" keys rotate --data $D --root root.pem >out 2>&1 &&
	fail "rotated with another root"
grep -q 'not the root' out || fail "another root: message"
echo "keys: certify, sign, verify, init, rotate, revoke"
exit 0
