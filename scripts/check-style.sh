#!/bin/sh
# check-style.sh -- the machine-checked part of the house style.
#
#   1. banned calls anywhere outside tests: unbounded string functions;
#   2. in the portable cores (common/src, firmware-hal/src, agent/core):
#      no heap, no stdio, no OS headers;
#   3. layout: clang-format --dry-run on every C file, when clang-format is
#      installed (CI installs it).
# Exit 1 with a list of offences, 0 when clean.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT

offend() {
	echo "check-style: $1" >>"$out"
}

sources=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
non_test=$(printf '%s\n' $sources | grep -v '^tests/' || true)
portable=$(printf '%s\n' $sources |
	grep -E '^(common/(src|include)|firmware-hal/(src|include)|agent/core)/' || true)

banned='(^|[^>.a-z_])(strcpy|strcat|sprintf|vsprintf|gets|strtok|strncpy|atoi|atol)\s*\('
for f in $non_test; do
	grep -nHE "$banned" "$f" | grep -v 'style: allow' |
		while IFS= read -r line; do offend "banned call: $line"; done
done

heap='(^|[^>.a-z_])(malloc|calloc|realloc|free|printf|fprintf|puts|fopen|open|read|write|close|time|clock_gettime|sleep|usleep)\s*\('
for f in $portable; do
	grep -nHE "$heap" "$f" | grep -v 'style: allow' |
		while IFS= read -r line; do offend "OS or heap call in a portable core: $line"; done
	grep -nHE '#include <(stdio|stdlib|unistd|fcntl|time|pthread|errno|sys/[a-z_]+)\.h>' "$f" |
		while IFS= read -r line; do offend "hosted header in a portable core: $line"; done
done

if command -v clang-format >/dev/null 2>&1; then
	for f in $sources; do
		if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
			offend "layout differs from .clang-format: $f (run make format)"
		fi
	done
fi
# The loops above run in subshells, so offences are collected in a file.
if [ -s "$out" ]; then
	cat "$out" >&2
	exit 1
fi
echo "check-style: clean ($(printf '%s\n' $sources | wc -l) files)"
