# What the portable cores cost on a microcontroller: code, rodata, data and
# bss per object for rv32imc and cortex-m4 (freestanding cross-builds, -Os);
# the slot manager + installer against the 8 KiB target; a firmware's agent
# (cross/agent_image.c) against 24 KiB of code and 8 KiB of static RAM,
# with the codec stubbed and with it (the device's real link, codec built
# with FL_PROTO_COMPACT_DIAG and FL_PROTO_TRUST_OWN; cJSON and the C
# library named, not counted),
# each split by part, with encrypted images and without (as agent/esp32
# builds it); and a loud failure if any
# portable object references the heap or stdio. See bench/sizes.sh.
#   cmake --build <dir> --target bench_sizes
add_custom_target(bench_sizes
  COMMAND sh ${CMAKE_SOURCE_DIR}/bench/sizes.sh ${CMAKE_BINARY_DIR}
    ${CMAKE_COMMAND}
  COMMENT "Sizes of the portable cores on rv32imc and cortex-m4"
  USES_TERMINAL VERBATIM)
add_dependencies(bench bench_sizes)
