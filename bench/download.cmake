# One fleet-agent installing a 64 MiB image from a local HTTP server against
# plain `curl -o` in the same run (target: within 1.2x). The HTTP server and
# the port finder are the integration tests' (tests/support,
# tests/integration), so this needs the tests built (FL_BUILD_TESTS).
if(TARGET fleet-agent AND FL_BUILD_TESTS)
  find_program(FL_BENCH_MOSQUITTO mosquitto PATHS /usr/sbin /usr/local/sbin)
  add_custom_target(run_bench_download
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench_download.sh
            $<TARGET_FILE:fleet-agent> $<TARGET_FILE:fleet-manifest>
            $<TARGET_FILE:http_range_server> $<TARGET_FILE:free_port>
            ${FL_BENCH_MOSQUITTO} 64
    DEPENDS fleet-agent fleet-manifest http_range_server free_port
    USES_TERMINAL)
  add_dependencies(bench run_bench_download)
endif()
