# fleet-sim with 10,000 idle devices on one local mosquitto: resident memory
# per device against the 16 KiB target, and CPU while idle.
if(TARGET fleet-sim)
  add_custom_target(run_bench_sim_idle
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/bench_sim_idle.sh
            $<TARGET_FILE:fleet-sim> 10000 30
    DEPENDS fleet-sim USES_TERMINAL)
  add_dependencies(bench run_bench_sim_idle)
endif()
