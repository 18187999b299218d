# What one A/B update costs a device (operations, wear, CPU time).
add_executable(bench_install ${CMAKE_CURRENT_SOURCE_DIR}/bench_install.c)
target_link_libraries(bench_install PRIVATE fl_hal fl_crypto_openssl)
add_custom_target(run_bench_install COMMAND bench_install
  DEPENDS bench_install USES_TERMINAL)
add_dependencies(bench run_bench_install)
