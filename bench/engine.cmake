# What the rollout engine costs on 100k and 1M devices (time, memory).
if(NOT TARGET fl_engine)
  include(${CMAKE_SOURCE_DIR}/orchestrator/engine/engine.cmake)
endif()
add_executable(bench_engine ${CMAKE_CURRENT_SOURCE_DIR}/bench_engine.c)
target_link_libraries(bench_engine PRIVATE fl_engine)
add_custom_target(run_bench_engine COMMAND bench_engine
  DEPENDS bench_engine USES_TERMINAL)
add_dependencies(bench run_bench_engine)
