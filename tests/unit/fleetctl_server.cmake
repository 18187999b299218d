# fleetctl's server commands (dashboard-cli/): the pure parts. Text
# building blocks (render.c), command lines (args.c), the API client's
# paths, URL checks and a refused connection (api.c), and every command's
# text from canned answers that follow docs/api.md against golden files
# (view.c; data in unit/fleetctl/, FL_UPDATE_GOLDEN=1 rewrites them).
if(TARGET fl_fleetctl)
  pkg_check_modules(FLCTL_UNIT_CJSON REQUIRED IMPORTED_TARGET libcjson)
  fl_test(test_fleetctl_render
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fleetctl_render.c
    LIBS fl_fleetctl)
  fl_test(test_fleetctl_args
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fleetctl_args.c
    LIBS fl_fleetctl)
  fl_test(test_fleetctl_api
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fleetctl_api.c
    LIBS fl_fleetctl)
  fl_test(test_fleetctl_view
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fleetctl_view.c
    LIBS fl_fleetctl PkgConfig::FLCTL_UNIT_CJSON
    ARGS ${CMAKE_CURRENT_SOURCE_DIR}/unit/fleetctl)
  # Fails the Nth allocation of the renderers (see the test's top comment).
  target_link_options(test_fleetctl_view PRIVATE
    -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
endif()
