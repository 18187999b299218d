# Freestanding cross-builds of the portable cores (cross/, a separate CMake
# project with its own toolchain file and flags; no host sanitizers): they
# compile with no hosted header, and link with nothing but mem*/strlen,
# libgcc and the two codec functions of cross/external.txt (the manifest's
# verification, which needs cJSON and so a C library; stand-ins resolve
# them for the proof). cross_no_heap fails if any portable object
# references the heap or stdio; it compiles what it needs, so it also runs
# alone. The sizes are bench/sizes.sh's (cmake --build . --target
# bench_sizes), not a test's.
foreach(arch rv32imc cortex-m4)
  string(REPLACE "-" "_" name "cross_${arch}")
  add_test(NAME ${name}
    COMMAND sh ${CMAKE_SOURCE_DIR}/cross/build.sh ${arch}
      ${CMAKE_BINARY_DIR}/cross-${arch} ${CMAKE_COMMAND})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300
    RESOURCE_LOCK cross-${arch})
endforeach()
add_test(NAME cross_no_heap
  COMMAND sh ${CMAKE_SOURCE_DIR}/cross/check-no-heap.sh -b ${CMAKE_COMMAND}
    ${CMAKE_BINARY_DIR})
set_tests_properties(cross_no_heap PROPERTIES TIMEOUT 300
  DEPENDS "cross_rv32imc;cross_cortex_m4"
  RESOURCE_LOCK "cross-rv32imc;cross-cortex-m4")
