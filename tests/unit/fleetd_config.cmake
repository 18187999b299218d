# fleetd's configuration file and the value forms of its flags
# (orchestrator/fleetd/config.c, compiled in: it is part of the fleetd
# program, not of a library).
if(TARGET fleetd)
  pkg_check_modules(FLD_CONF_YAML REQUIRED IMPORTED_TARGET yaml-0.1)
  fl_test(test_fleetd_config
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fleetd_config.c
            ${CMAKE_SOURCE_DIR}/orchestrator/fleetd/config.c
    LIBS fl_proto fl_common PkgConfig::FLD_CONF_YAML)
  target_include_directories(test_fleetd_config PRIVATE
    ${CMAKE_SOURCE_DIR}/orchestrator/fleetd)
endif()
