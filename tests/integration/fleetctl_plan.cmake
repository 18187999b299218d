# fleetctl's commands that need no server, run as a user would: `plan
# validate` on every example plan and every bad plan (against its
# .expected), usage errors, and `plan simulate` on the examples with the
# sample inventory (stage sizes by hand, rollback counts, JSON). The JSON
# is read back by fleetctl_json_get (json_get.c), a small cJSON tool.
if(TARGET fleetctl)
  pkg_check_modules(FLCTL_TEST_CJSON REQUIRED IMPORTED_TARGET libcjson)
  add_executable(fleetctl_json_get ${CMAKE_CURRENT_SOURCE_DIR}/integration/json_get.c)
  target_link_libraries(fleetctl_json_get PRIVATE PkgConfig::FLCTL_TEST_CJSON)
  foreach(case validate_examples validate_bad usage simulate_sizes
          simulate_fail simulate_json simulate_default_fleet
          simulate_bad_inventory simulate_all_examples)
    add_test(NAME fleetctl_plan_${case}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleetctl_plan.sh
                     ${case} $<TARGET_FILE:fleetctl> $<TARGET_FILE:fleetctl_json_get>
                     ${CMAKE_SOURCE_DIR})
    set_tests_properties(fleetctl_plan_${case} PROPERTIES TIMEOUT 300)
  endforeach()
endif()
