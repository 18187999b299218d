# fleetd against a real mosquitto (its embedded one) and fleet-sim:
#   bench_fleetd_ingest: device reports per second fleetd ingests and
#     persists against the broker's raw throughput in the same run
#     (target: at least 0.8 of raw);
#   bench_fleetd_rollback: 10,000 fleet-sim devices through a rollout whose
#     later wave fails its gate; time from the failing report to the last
#     rollback acknowledged (target: under 1 s), and fleetd's resident
#     memory per device.
# The port finder is the integration tests' (tests/integration/free_port.c),
# so this needs the tests built (FL_BUILD_TESTS).
#   cmake --build <dir> --target bench_fleetd_ingest    (about 20 s)
#   cmake --build <dir> --target bench_fleetd_rollback  (about 3-4 min)
if(TARGET fleetd AND TARGET fleet-sim AND TARGET fleetctl AND FL_BUILD_TESTS)
  pkg_check_modules(FLB_MOSQ REQUIRED IMPORTED_TARGET libmosquitto)
  if(NOT TARGET PkgConfig::SQLITE3)
    pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET GLOBAL sqlite3)
  endif()
  find_package(Threads REQUIRED)
  add_executable(bench_fleetd_ingest_prog
    ${CMAKE_CURRENT_SOURCE_DIR}/bench_fleetd_ingest.c)
  target_link_libraries(bench_fleetd_ingest_prog PRIVATE fl_proto
    PkgConfig::FLB_MOSQ PkgConfig::SQLITE3 Threads::Threads)
  add_custom_target(bench_fleetd_ingest
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/bench_fleetd_ingest.sh
            $<TARGET_FILE:fleetd> $<TARGET_FILE:bench_fleetd_ingest_prog>
            $<TARGET_FILE:free_port>
    DEPENDS fleetd bench_fleetd_ingest_prog free_port USES_TERMINAL)
  add_dependencies(bench bench_fleetd_ingest)

  add_executable(bench_fleetd_watch
    ${CMAKE_CURRENT_SOURCE_DIR}/bench_fleetd_watch.c)
  target_link_libraries(bench_fleetd_watch PRIVATE fl_proto
    PkgConfig::FLB_MOSQ)
  add_custom_target(bench_fleetd_rollback
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/bench_fleetd_rollback.sh
            $<TARGET_FILE:fleetd> $<TARGET_FILE:fleetctl>
            $<TARGET_FILE:fleet-sim> $<TARGET_FILE:bench_fleetd_watch>
            $<TARGET_FILE:free_port> $<TARGET_FILE:fleetctl_json_get>
    DEPENDS fleetd fleetctl fleet-sim bench_fleetd_watch free_port
            fleetctl_json_get
    USES_TERMINAL)
  add_dependencies(bench bench_fleetd_rollback)
endif()
