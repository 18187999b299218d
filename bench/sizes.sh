#!/bin/sh
# sizes.sh BUILD_ROOT [CMAKE] -- what the portable cores cost in flash and
# RAM on a microcontroller, per object, for rv32imc and cortex-m4.
#
# Builds the freestanding cross-builds (cross/build.sh, -Os, sections per
# function) into BUILD_ROOT/cross-<arch>, then prints for each object its
# code (.text*), read-only data (.rodata*, .srodata*), data and bss, from
# the target's `size -A`; a total for the slot manager and installer (the
# objects in DEVICE below), compared with the target of at most 8 KiB of
# code; the same objects linked --gc-sections from the public functions of
# slots.c and installer.c (with mem*/strlen and libgcc: what a firmware
# really carries); and the image of the whole archive with every public
# function kept (fl_portable.elf). A source that does not exist yet is
# printed as "missing", one that does not compile as "failed". Then runs
# cross/check-no-heap.sh: exit 1 if any portable object references the
# heap or stdio. A missing toolchain skips its arch.
set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_ROOT [CMAKE]" >&2
	exit 2
fi
root=$1
cmake=${2:-cmake}
src=$(cd "$(dirname "$0")/.." && pwd)
TARGET_TEXT=8192
# What a device's update path links: slot manager, installer, flash
# interface, byte helpers, crypto conveniences (the crypto port and the
# flash driver are the platform's, and not counted).
DEVICE="firmware-hal/src/slots.c firmware-hal/src/installer.c
firmware-hal/src/flash.c common/src/bytes.c common/src/crypto.c"

# Prints "code rodata data bss" of one object or image, from size -A.
sections() {
	"$FL_CROSS_SIZE" -A "$1" | awk '
		$1 ~ /^\.text/ { t += $2 }
		$1 ~ /^\.s?rodata/ { r += $2 }
		$1 ~ /^\.s?data/ { d += $2 }
		$1 ~ /^\.s?bss/ { b += $2 }
		END { printf "%d %d %d %d\n", t, r, d, b }'
}

row() {
	printf '  %-28s %7s %7s %7s %7s\n' "$1" "$2" "$3" "$4" "$5"
}

# Links the DEVICE objects, --gc-sections, rooted at every public function
# of slots.c and installer.c, and prints the sizes of the result.
link_device() {
	objs=""
	roots=""
	for f in $DEVICE; do
		obj=$(grep -F "/$f." "$FL_CROSS_OBJECTS" | head -n 1)
		objs="$objs $obj"
		case $f in
		*/slots.c | */installer.c)
			roots="$roots $("$FL_CROSS_NM" -g --defined-only "$obj" |
				awk '$2 == "T" { printf " -Wl,--undefined=%s", $3 }')"
			;;
		esac
	done
	elf=$1/device.elf
	# shellcheck disable=SC2086
	if $FL_CROSS_CC $FL_CROSS_ARCH_FLAGS -nostdlib -nostartfiles \
		-Wl,--gc-sections -Wl,--entry=0 $roots -o "$elf" $objs \
		"$FL_CROSS_FREESTANDING" "$FL_CROSS_LIBGCC" \
		>"$1/device-link.log" 2>&1; then
		# shellcheck disable=SC2046
		row "  linked, --gc-sections" $(sections "$elf")
	else
		echo "  linked: FAILED, see $1/device-link.log:"
		grep -E 'undefined reference' "$1/device-link.log" |
			sed 's/^.*undefined/    undefined/' | sort -u | head -n 5
	fi
}

arches_done=0
for arch in rv32imc cortex-m4; do
	dir=$root/cross-$arch
	case $arch in
	rv32imc) cc=riscv64-unknown-elf-gcc ;;
	cortex-m4) cc=arm-none-eabi-gcc ;;
	esac
	echo
	if ! command -v "$cc" >/dev/null 2>&1; then
		echo "== $arch: skipped, $cc is not installed"
		continue
	fi
	mkdir -p "$dir"
	if ! "$src/cross/build.sh" "$arch" "$dir" "$cmake" \
		>"$dir/sizes-build.log" 2>&1; then
		echo "!! $arch: the cross-build failed (figures below are" \
			"partial); see $dir/sizes-build.log:"
		grep -E 'error:|check-link:' "$dir/sizes-build.log" | head -n 8 |
			sed 's/^/!!   /'
	fi
	if [ ! -f "$dir/cross.env" ]; then
		echo "== $arch: not configured, see $dir/sizes-build.log"
		continue
	fi
	# shellcheck disable=SC1091
	. "$dir/cross.env"
	arches_done=$((arches_done + 1))
	echo "== $arch ($FL_CROSS_CC $FL_CROSS_ARCH_FLAGS -Os), bytes"
	row object code rodata data bss
	while IFS= read -r obj; do
		[ -n "$obj" ] || continue
		name=$(basename "$obj")
		if [ -f "$obj" ]; then
			# shellcheck disable=SC2046
			row "$name" $(sections "$obj")
		else
			row "$name" failed - - -
		fi
	done <"$FL_CROSS_OBJECTS"

	echo "  slot manager + installer:"
	sum="0 0 0 0"
	missing=""
	for f in $DEVICE; do
		obj=$(grep -F "/$f." "$FL_CROSS_OBJECTS" | head -n 1)
		if [ -z "$obj" ] || [ ! -f "$obj" ]; then
			# No source yet, or it did not compile.
			why=missing
			[ -n "$obj" ] && why=failed
			row "  $(basename "$f")" $why - - -
			missing="$missing $(basename "$f")"
			continue
		fi
		s=$(sections "$obj")
		# shellcheck disable=SC2086
		row "  $(basename "$f")" $s
		# shellcheck disable=SC2086
		sum=$(echo $sum $s | awk '{ print $1+$5, $2+$6, $3+$7, $4+$8 }')
	done
	# shellcheck disable=SC2086
	row "  total" $sum
	code=${sum%% *}
	if [ "$code" -le "$TARGET_TEXT" ]; then
		verdict="within"
	else
		verdict="OVER"
	fi
	pct=$((code * 100 / TARGET_TEXT))
	echo "  target: code <= $TARGET_TEXT bytes at -Os, no heap:" \
		"$verdict ($code bytes, $pct% of target)${missing:+; without:$missing}"
	if [ -z "$missing" ]; then
		link_device "$dir"
	fi
	if [ -f "$FL_CROSS_ELF" ]; then
		# shellcheck disable=SC2046
		row "linked, --gc-sections, all" $(sections "$FL_CROSS_ELF")
		echo "  (fl_portable.elf: every public function of the portable" \
			"cores, the simulators included, plus mem*/strlen)"
	fi
done

echo
if [ "$arches_done" -eq 0 ]; then
	echo "sizes: no cross toolchain installed; nothing measured"
	exit 0
fi
"$src/cross/check-no-heap.sh" "$root"
