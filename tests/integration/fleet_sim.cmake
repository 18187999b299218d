# fleet-sim end to end: a mosquitto broker and a libmicrohttpd server
# started by the test on free loopback ports, manifests signed with
# fleet-manifest, commands sent with mosquitto_pub; update, rollback, a bad
# version, power cuts over a slow link.
if(TARGET fleet-sim AND TARGET fleet-manifest)
  pkg_check_modules(FLSIMT_MOSQ REQUIRED IMPORTED_TARGET libmosquitto)
  pkg_check_modules(FLSIMT_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  pkg_check_modules(FLSIMT_CJSON REQUIRED IMPORTED_TARGET libcjson)
  find_package(Threads REQUIRED)
  fl_test(test_fleet_sim
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_fleet_sim.c
    LIBS fl_proto PkgConfig::FLSIMT_MOSQ PkgConfig::FLSIMT_MHD
         PkgConfig::FLSIMT_CJSON Threads::Threads
    ARGS $<TARGET_FILE:fleet-sim> $<TARGET_FILE:fleet-manifest>
    TIMEOUT 180)
endif()
