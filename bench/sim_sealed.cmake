# fleet-sim installing the same image plain and encrypted on 200 devices:
# CPU per device per MiB of each, and what encryption adds. The HTTP
# server and the port finder are the integration tests' (tests/support,
# tests/integration), so this needs the tests built (FL_BUILD_TESTS).
if(TARGET fleet-sim AND FL_BUILD_TESTS)
  find_program(FL_BENCH_MOSQUITTO mosquitto PATHS /usr/sbin /usr/local/sbin)
  add_custom_target(run_bench_sim_sealed
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/bench_sim_sealed.sh
            $<TARGET_FILE:fleet-sim> $<TARGET_FILE:fleet-manifest>
            $<TARGET_FILE:http_range_server> $<TARGET_FILE:free_port>
            ${FL_BENCH_MOSQUITTO} 200 1
    DEPENDS fleet-sim fleet-manifest http_range_server free_port
    USES_TERMINAL)
  add_dependencies(bench run_bench_sim_sealed)
endif()
