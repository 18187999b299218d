#!/bin/sh
# sizes.sh BUILD_ROOT [CMAKE] -- what the portable cores cost in flash and
# RAM on a microcontroller, per object, for rv32imc and cortex-m4.
#
# The agent: cross/agent_image.c (a firmware's use of agent/core, every
# buffer static) linked --gc-sections with the portable archive: its code
# (.text + .rodata) against the target of 24 KiB and its static RAM
# (.data + .bss) against 8 KiB, without the MQTT, HTTP and TLS stacks,
# Mbed TLS and the flash driver, which are the platform's, and with the
# codec stubbed (cross/external_stub.c); the largest stack frames of the
# agent's path; the Mbed TLS crypto port's object; and, when the target's
# C library is installed (picolibc for rv32imc, newlib for cortex-m4), the
# device's real link: the same image with the codec (common/proto compiled
# against that library's headers with FL_PROTO_COMPACT_DIAG and
# FL_PROTO_TRUST_OWN, as agent/esp32 builds it: the manifest's
# verification, the command's decoder, the encoders the MQTT adapter
# calls), against the same targets; cJSON and the C library are not
# counted and are named. Each link is
# split by part (agent/core, codec, HAL, helpers, the crypto port, the
# firmware stand-in, mem*/libgcc; bench/size_split.awk), and small
# constants (.srodata, which the default RISC-V linker script puts among
# the data) are counted as code. Each link is made twice: with encrypted
# images (agent/core/sealed.c, a 4 KiB chunk's record buffer and a wrap
# key) and without (agent/core/noseal/sealed_none.c in its place, as
# agent/esp32 builds it); a summary gives the four figures, and the RAM of
# encrypted images with 1 KiB chunks, derived. rv32imc is compiled with
# -msave-restore (cmake/toolchain-rv32imc.cmake's FL_CROSS_CODE_FLAGS), as
# ESP-IDF's CONFIG_COMPILER_SAVE_RESTORE_LIBCALLS does.
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
TARGET_AGENT_CODE=24576
TARGET_AGENT_RAM=8192
AGENT="agent/core/agent.c agent/core/download.c agent/core/health.c
agent/core/report.c agent/core/state.c agent/core/store_flash.c
agent/core/sealed.c agent/core/unseal.c"
# The codec (common/proto): what a device calls of it is the manifest's
# verification (fl_manifest_verify_trusted, fl_manifest_check: the agent), the
# command's decoder and the encoders of status, reported, health and
# presence (the MQTT adapter, as cross/agent_image.c calls them).
CODEC="common/proto/codec.c common/proto/manifest.c common/proto/json.c
common/proto/encoding.c common/proto/names.c"
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

verdict_of() { # VALUE TARGET
	if [ "$1" -le "$2" ]; then
		echo "within ($1 bytes, $(($1 * 100 / $2))% of target)"
	else
		echo "OVER ($1 bytes, $(($1 * 100 / $2))% of target)"
	fi
}

# Links agent_image.c's firmware ($image: its object, or for the variant
# without encrypted images its object and sealed_none.c's) with the
# portable archive (and any extra objects given), --gc-sections, and
# prints its sections and verdicts.
# $1: build dir, $2: label, $3: extra link flags, rest: extra objects.
link_agent() {
	dir=$1
	label=$2
	extra=$3
	shift 3
	elf=$dir/agent-$(echo "$label" | tr -c 'a-z0-9\n' '-').elf
	# shellcheck disable=SC2086
	if ! $FL_CROSS_CC $FL_CROSS_ARCH_FLAGS -nostdlib -nostartfiles \
		-Wl,--gc-sections -Wl,--entry=fl_agent_image_main $extra \
		-Wl,-Map="$elf.map" \
		-o "$elf" $image "$@" -Wl,--start-group \
		"$FL_CROSS_LIB" "$FL_CROSS_EXTERNAL_STUB" \
		"$FL_CROSS_FREESTANDING" "$FL_CROSS_LIBGCC" -Wl,--end-group \
		>"$elf.log" 2>&1; then
		echo "  $label: link FAILED, see $elf.log"
		return
	fi
	split=$(awk -f "$src/bench/size_split.awk" "$elf.map")
	# Small constants the default linker script puts among the data.
	sro=$(echo "$split" | awk -F '\t' '$1 == "srodata" { print $2 }')
	sro=${sro:-0}
	# shellcheck disable=SC2046
	set -- $(sections "$elf")
	row "  $label" "$1" "$(($2 + sro))" "$(($3 - sro))" "$4"
	last_code=$(($1 + $2 + sro + ${port_code:-0}))
	last_ram=$(($3 - sro + $4 + ${port_ram:-0}))
	echo "    code (.text + .rodata${port_code:+, + the crypto port's $port_code})" \
		"<= $TARGET_AGENT_CODE:" \
		"$(verdict_of $(($1 + $2 + sro + ${port_code:-0})) $TARGET_AGENT_CODE)"
	echo "    static RAM (.data + .bss${port_ram:+, + the port's $port_ram})" \
		"<= $TARGET_AGENT_RAM:" \
		"$(verdict_of $(($3 - sro + $4 + ${port_ram:-0})) $TARGET_AGENT_RAM)"
	[ "$sro" -gt 0 ] &&
		echo "    (.srodata, $sro bytes of constants, counted as code:" \
			"the default linker script puts it among the data)"
	echo "    by part (code, RAM):"
	[ -n "$port_code" ] &&
		printf '      %-36s %7s %7s\n' "crypto port (crypto_mbedtls.c)" \
			"$port_code" "$port_ram"
	echo "$split" | awk -F '\t' '$1 != "srodata" {
		printf "      %-36s %7d %7d\n", $1, $2, $3 }' | sort -k1,1
}

# The Mbed TLS crypto port's code and RAM (port_code, port_ram; empty when
# it did not compile): the agent's targets count it, and agent_image.c
# links a stand-in in its place (its Mbed TLS calls are the platform's).
port_sizes() {
	port_code=""
	port_ram=""
	if [ -n "$FL_CROSS_CRYPTO_PORT" ] && [ -f "$FL_CROSS_CRYPTO_PORT" ]; then
		# shellcheck disable=SC2046
		set -- $(sections "$FL_CROSS_CRYPTO_PORT")
		port_code=$(($1 + $2))
		port_ram=$(($3 + $4))
	fi
}

# The agent: objects, the linked firmware image, stack frames, ports.
agent_sizes() {
	dir=$1
	sum_stub=""
	sum_stub_plain=""
	sum_codec=""
	sum_codec_plain=""
	echo "  agent (agent/core):"
	sum="0 0 0 0"
	for f in $AGENT; do
		obj=$(grep -F "/$f." "$FL_CROSS_OBJECTS" | head -n 1)
		if [ -z "$obj" ] || [ ! -f "$obj" ]; then
			row "  $(basename "$f")" missing - - -
			continue
		fi
		s=$(sections "$obj")
		# shellcheck disable=SC2086
		row "  $(basename "$f")" $s
		# shellcheck disable=SC2086
		sum=$(echo $sum $s | awk '{ print $1+$5, $2+$6, $3+$7, $4+$8 }')
	done
	# shellcheck disable=SC2086
	row "  total (objects)" $sum
	if [ ! -f "$FL_CROSS_AGENT_IMAGE" ]; then
		echo "  agent image: not compiled"
		return
	fi
	port_sizes
	echo "  a firmware's agent, linked --gc-sections (agent/core, slot" \
		"manager, installer, flash interface, helpers, libgcc;"
	echo "  not the MQTT/HTTP/TLS stacks, Mbed TLS, the flash driver;" \
		"the codec stubbed):"
	image=$FL_CROSS_AGENT_IMAGE
	link_agent "$dir" "agent image" ""
	sum_stub="$last_code $last_ram"
	sum_stub_plain=""
	if [ -n "${FL_CROSS_AGENT_IMAGE_PLAIN:-}" ]; then
		echo "  the same without encrypted images (agent/core/noseal/" \
			"sealed_none.c in place of sealed.c; no chunk buffer, no" \
			"wrap key):"
		image=$FL_CROSS_AGENT_IMAGE_PLAIN
		link_agent "$dir" "agent image, plain" ""
		sum_stub_plain="$last_code $last_ram"
	fi
	# shellcheck disable=SC2046
	frames=$(cat "$(dirname "$FL_CROSS_AGENT_IMAGE")"/*.su \
		$(sed 's/\.obj$/.su/' "$FL_CROSS_OBJECTS" |
			grep -E '/(agent/core|firmware-hal/src/(slots|installer|flash)|common/src/(bytes|crypto))\.?' ||
			true) 2>/dev/null |
		sort -t "$(printf '\t')" -k2 -n -r | head -n 3 |
		awk -F '\t' '{ n = split($1, p, ":"); printf "%s %s, ", p[n], $2 }')
	[ -n "$frames" ] &&
		echo "    largest stack frames: ${frames%, } bytes"
	if [ -n "$FL_CROSS_CRYPTO_PORT" ] && [ -f "$FL_CROSS_CRYPTO_PORT" ]; then
		# shellcheck disable=SC2046
		row "  crypto_mbedtls.c (port)" $(sections "$FL_CROSS_CRYPTO_PORT")
		echo "    (compiled freestanding against Mbed TLS's headers;" \
			"Mbed TLS itself is the platform's)"
	else
		echo "  crypto_mbedtls.c (port): not compiled (no Mbed TLS headers)"
	fi
	codec_sizes "$dir"
	summary
}

# The four links of one arch side by side; and the RAM of encrypted-image
# support for a chunk of 4 KiB (agent_image.c's) and of 1 KiB.
summary() {
	echo "  summary (code, static RAM; targets $TARGET_AGENT_CODE," \
		"$TARGET_AGENT_RAM):"
	# shellcheck disable=SC2086
	[ -n "$sum_stub" ] && printf '    %-44s %7s %7s\n' \
		"codec stubbed, encrypted images" $sum_stub
	# shellcheck disable=SC2086
	[ -n "$sum_stub_plain" ] && printf '    %-44s %7s %7s\n' \
		"codec stubbed, without encrypted images" $sum_stub_plain
	# shellcheck disable=SC2086
	[ -n "$sum_codec" ] && printf '    %-44s %7s %7s\n' \
		"with the codec, encrypted images" $sum_codec
	# shellcheck disable=SC2086
	[ -n "$sum_codec_plain" ] && printf '    %-44s %7s %7s\n' \
		"with the codec, without encrypted images" $sum_codec_plain
	if [ -n "$sum_codec" ]; then
		# The record buffer is FL_SEAL_BUF_BYTES(chunk): chunk +
		# chunk/64 + 80.
		ram4=${sum_codec#* }
		ram1=$((ram4 - (4096 + 64 + 80) + (1024 + 16 + 80)))
		printf '    %-44s %7s %7s\n' \
			"  the same, encrypted, 1 KiB chunks (derived)" \
			"${sum_codec% *}" "$ram1"
	fi
}

# The device's real link, with the codec compiled hosted (against the C
# library's headers, as a firmware compiles it) and linked --gc-sections from agent_image.c, which calls what
# the MQTT adapter calls. cJSON and the C library are the platform's (ESP-IDF
# ships both): they are left unresolved, not counted, and named.
codec_sizes() {
	dir=$1
	# The C library's headers: picolibc's on rv32imc, newlib's (the
	# toolchain's default) on cortex-m4.
	case $FL_CROSS_ARCH_FLAGS in
	*rv32*)
		libc_flags=--specs=picolibc.specs
		# shellcheck disable=SC2086
		libc=$($FL_CROSS_CC $FL_CROSS_ARCH_FLAGS \
			-print-file-name=picolibc.specs)
		;;
	*)
		libc_flags=""
		# shellcheck disable=SC2086
		libc=$($FL_CROSS_CC $FL_CROSS_ARCH_FLAGS -print-file-name=libc.a)
		;;
	esac
	if [ ! -f "$libc" ] || [ ! -f /usr/include/cjson/cJSON.h ]; then
		echo "  device with the codec: not measured (needs a C library" \
			"for the target, picolibc or newlib, and cJSON.h)"
		return
	fi
	mkdir -p "$dir/codec/inc"
	ln -sf /usr/include/cjson/cJSON.h "$dir/codec/inc/cJSON.h"
	objs=""
	for f in $CODEC; do
		o=$dir/codec/$(basename "$f" .c).o
		# shellcheck disable=SC2086
		if ! $FL_CROSS_CC $FL_CROSS_ARCH_FLAGS $libc_flags \
			-Os ${FL_CROSS_CODE_FLAGS:-} \
			-ffunction-sections -fdata-sections \
			-DFL_PROTO_COMPACT_DIAG -DFL_PROTO_TRUST_OWN \
			-I"$src/common/include" -I"$dir/codec/inc" \
			-c "$src/$f" -o "$o" >"$o.log" 2>&1; then
			echo "  device with the codec: $f did not compile, see" \
				"$o.log"
			return
		fi
		objs="$objs $o"
	done
	echo "  the device's real link: the same with the codec (common/proto" \
		"against the C library's headers, with"
	echo "  FL_PROTO_COMPACT_DIAG and FL_PROTO_TRUST_OWN as agent/esp32" \
		"builds it: manifest verify" \
		"and check, cmd decode,"
	echo "  status/reported/health/presence encode, topics):"
	image=$FL_CROSS_AGENT_IMAGE
	# shellcheck disable=SC2086
	link_agent "$dir" "agent + codec" \
		"-Wl,--unresolved-symbols=ignore-all" $objs
	sum_codec="$last_code $last_ram"
	if [ -n "${FL_CROSS_AGENT_IMAGE_PLAIN:-}" ]; then
		echo "  the same without encrypted images:"
		image=$FL_CROSS_AGENT_IMAGE_PLAIN
		# shellcheck disable=SC2086
		link_agent "$dir" "agent + codec, plain" \
			"-Wl,--unresolved-symbols=ignore-all" $objs
		sum_codec_plain="$last_code $last_ram"
	fi
	elf=$dir/agent-agent---codec.elf
	[ -f "$elf" ] || return
	ext=$("$FL_CROSS_NM" -u "$elf" | awk '{ print $NF }' | sort -u)
	cjson=$(echo "$ext" | grep -c '^cJSON_')
	libc=$(echo "$ext" | grep -v '^cJSON_' | tr '\n' ' ')
	echo "    not counted, the platform's: cJSON ($cjson functions:" \
		"$(echo "$ext" | grep '^cJSON_' | sed 's/^cJSON_//' |
			tr '\n' ' ' | sed 's/ $//'))"
	echo "    and the C library (${libc% })"
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
	echo "== $arch ($FL_CROSS_CC $FL_CROSS_ARCH_FLAGS" \
		"-Os${FL_CROSS_CODE_FLAGS:+ $FL_CROSS_CODE_FLAGS}), bytes"
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
			"cores, the simulators included, plus mem*/strlen and" \
			"the codec's stand-ins)"
	fi
	agent_sizes "$dir"
done

echo
if [ "$arches_done" -eq 0 ]; then
	echo "sizes: no cross toolchain installed; nothing measured"
	exit 0
fi
"$src/cross/check-no-heap.sh" "$root"
