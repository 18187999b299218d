#!/bin/sh
# check-link.sh ENV_FILE LIBFREESTANDING -- prove that the portable archive
# needs nothing from a C library but memcpy/memmove/memset/memcmp/strlen.
#
#   1. combine the whole archive into one relocatable object (ld -r) and
#      list its undefined symbols; each must be declared in
#      cross/include/string.h, defined by the compiler's runtime (libgcc),
#      or listed in cross/external.txt (the codec's manifest parser, which
#      a firmware links with its cJSON), else fail and name it with the
#      objects that use it;
#   2. link that object with freestanding.c's five functions, the
#      stand-ins of external_stub.c and libgcc only (-nostdlib),
#      --gc-sections, every global function kept as a root (-u), into
#      fl_portable.elf; any unresolved symbol fails the link.
# ENV_FILE is the cross.env written by cross/CMakeLists.txt.
set -eu
env_file=$1
freestanding=$2
# shellcheck disable=SC1090
. "$env_file"
dir=$(dirname "$FL_CROSS_ELF")
all=$dir/fl_portable_all.o
rm -f "$FL_CROSS_ELF" # never leave an image from an earlier, good build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC2086
$FL_CROSS_CC $FL_CROSS_ARCH_FLAGS -nostdlib -r -o "$all" \
	-Wl,--whole-archive "$FL_CROSS_LIB" -Wl,--no-whole-archive

# The C library functions allowed are those include/string.h declares.
sed -n 's/^[a-z_ ]*[ *]\([a-z_0-9]*\)(.*/\1/p' "$FL_CROSS_STRING_H" \
	>"$tmp/allowed"
"$FL_CROSS_NM" -g --defined-only "$FL_CROSS_LIBGCC" 2>/dev/null |
	awk 'NF == 3 { print $3 }' >>"$tmp/allowed"
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$FL_CROSS_EXTERNAL" >>"$tmp/allowed"
sort -u -o "$tmp/allowed" "$tmp/allowed"
"$FL_CROSS_NM" -u "$all" | awk '{ print $NF }' | sort -u >"$tmp/undefined"
comm -23 "$tmp/undefined" "$tmp/allowed" >"$tmp/offending"
if [ -s "$tmp/offending" ]; then
	echo "check-link: the portable cores need symbols a freestanding" \
		"target does not have:" >&2
	while IFS= read -r sym; do
		users=$("$FL_CROSS_NM" -A -u "$FL_CROSS_LIB" 2>/dev/null |
			awk -v s="$sym" '$NF == s { n = split($1, f, ":");
				print f[n - 1] }' |
			sort -u | tr '\n' ' ')
		echo "check-link:   $sym (used by: ${users:-?})" >&2
	done <"$tmp/offending"
	exit 1
fi

"$FL_CROSS_NM" -g --defined-only "$all" |
	awk '$2 == "T" { print "-Wl,--undefined=" $3 }' >"$tmp/roots"
if [ ! -s "$tmp/roots" ]; then
	echo "check-link: no public functions in $FL_CROSS_LIB" >&2
	exit 1
fi
entry=$(head -n 1 "$tmp/roots" | sed 's/^-Wl,--undefined=//')
# shellcheck disable=SC2086,SC2046
$FL_CROSS_CC $FL_CROSS_ARCH_FLAGS -nostdlib -nostartfiles \
	-Wl,--gc-sections -Wl,--entry="$entry" \
	-Wl,-Map="$dir/fl_portable.map" $(cat "$tmp/roots") \
	-o "$FL_CROSS_ELF" "$all" "$freestanding" "$FL_CROSS_EXTERNAL_STUB" \
	"$FL_CROSS_LIBGCC"
echo "check-link: $(wc -l <"$tmp/roots") public functions link" \
	"freestanding; undefined before linking: $(tr '\n' ' ' <"$tmp/undefined")"
