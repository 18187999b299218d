# size_split.awk -- bench/sizes.sh's per-part split of a linked image,
# from its GNU ld map (-Wl,-Map): the input sections kept after "Linker
# script and memory map", summed by the part their file belongs to. Prints
# "part<TAB>code<TAB>ram" lines, then "srodata<TAB>bytes": the small
# read-only data (.srodata*, constants) that the default RISC-V linker
# script places in the .sdata output section, so that `size -A` counts it
# as RAM; sizes.sh moves it to code, where a firmware's linker script puts
# it. A merged constant is listed once per object at one address: counted
# once.
function part(f) {
	if (f ~ /[\/(](agent|download|health|report|state|store_flash|sealed|sealed_none|unseal)\.(c\.obj|o)\)?$/)
		return "agent/core"
	if (f ~ /[\/(](codec|manifest|json|encoding|names)\.o$/)
		return "codec (common/proto)"
	if (f ~ /[\/(](slots|installer|flash|bootsim|flash_sim)\.(c\.obj|o)\)?$/)
		return "HAL (firmware-hal/src)"
	if (f ~ /[\/(](bytes|crypto|err|f64|semver|seal)\.(c\.obj|o)\)?$/)
		return "helpers (common/src)"
	if (f ~ /agent_image\.c\.obj$/)
		return "firmware stand-in (agent_image.c)"
	return "mem*/strlen, libgcc"
}
function hex(s,   i, v) {
	v = 0
	s = tolower(s)
	sub(/^0x/, "", s)
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function add(sec, addr, size, file,   k) {
	size = hex(size)
	if (size == 0 || file == "" || (addr in at))
		return
	at[addr] = 1 # merged constants: one copy
	k = part(file)
	seen[k] = 1
	if (sec ~ /^\.(text|s?rodata)/) {
		code[k] += size
		if (sec ~ /^\.srodata/)
			sro += size
	} else if (sec ~ /^\.s?(data|bss)/)
		ram[k] += size
}
/^Linker script and memory map/ { on = 1; next }
!on { next }
/^ \.[a-z]/ {
	if (NF >= 4) {
		add($1, $2, $3, $4)
	} else if (NF == 1) {
		sec = $1
		if ((getline nxt) > 0) {
			n = split(nxt, w, " ")
			if (n >= 3)
				add(sec, w[1], w[2], w[3])
		}
	}
}
END {
	for (k in seen)
		printf "%s\t%d\t%d\n", k, code[k], ram[k]
	printf "srodata\t%d\t0\n", sro
}
