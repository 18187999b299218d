# What fleetd's store persists per second: device reports in batches of
# 1, 100 and 1000, synchronous FULL and NORMAL, on disk.
if(NOT TARGET fl_store)
  include(${CMAKE_SOURCE_DIR}/orchestrator/store/store.cmake)
endif()
add_executable(bench_store ${CMAKE_CURRENT_SOURCE_DIR}/bench_store.c)
target_link_libraries(bench_store PRIVATE fl_store)
add_custom_target(run_bench_store COMMAND bench_store
  DEPENDS bench_store USES_TERMINAL)
add_dependencies(bench run_bench_store)
