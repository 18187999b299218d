# fleetctl watch's model (dashboard-cli/dash.c): canned answers, events,
# keys and terminal sizes in, screens out, checked against golden text
# (data in unit/fleetctl/dash/, goldens unit/fleetctl/golden/dash_*.txt;
# FL_UPDATE_GOLDEN=1 rewrites them).
if(TARGET fl_fleetctl)
  pkg_check_modules(FLCTL_DASH_CJSON REQUIRED IMPORTED_TARGET libcjson)
  fl_test(test_fleetctl_dash
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fleetctl_dash.c
    LIBS fl_fleetctl PkgConfig::FLCTL_DASH_CJSON
    ARGS ${CMAKE_CURRENT_SOURCE_DIR}/unit/fleetctl)
endif()
