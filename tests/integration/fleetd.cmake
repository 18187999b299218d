# fleetd end to end (tests/integration/test_fleetd.c): the real fleetd with
# its embedded mosquitto on free loopback ports, fleets of fleet-sim
# devices, rollouts started and followed through the REST API (and with
# fleetctl, when it is built, in the good scenario). One ctest
# per scenario, each in its own folder with its own ports: basics (flags,
# configuration errors, one fleetd per data directory, stops, kill -9 and
# the stale broker), good (canary and waves to complete), canary (a bad
# version caught in the canary), wave (caught in a later wave, the canary
# rolled back), kill (fleetd killed with -9 at four points), broker (the
# broker killed mid-rollout), offline (devices away during their offer).
if(TARGET fleetd AND TARGET fleet-sim)
  find_program(FL_FLEETD_MOSQUITTO mosquitto PATHS /usr/sbin /usr/local/sbin)
  if(FL_FLEETD_MOSQUITTO)
    pkg_check_modules(FLD_TEST_CURL REQUIRED IMPORTED_TARGET libcurl)
    pkg_check_modules(FLD_TEST_CJSON REQUIRED IMPORTED_TARGET libcjson)
    pkg_check_modules(FLD_TEST_MOSQ REQUIRED IMPORTED_TARGET libmosquitto)
    find_package(Threads REQUIRED)
    find_package(OpenSSL 3.0 REQUIRED)
    add_executable(test_fleetd
      ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_fleetd.c)
    target_link_libraries(test_fleetd PRIVATE PkgConfig::FLD_TEST_CURL
      PkgConfig::FLD_TEST_CJSON PkgConfig::FLD_TEST_MOSQ OpenSSL::Crypto
      Threads::Threads PkgConfig::CMOCKA)
    set(FLD_TEST_FLEETCTL "")
    if(TARGET fleetctl)
      set(FLD_TEST_FLEETCTL $<TARGET_FILE:fleetctl>)
    endif()
    foreach(s basics good canary wave kill broker offline)
      add_test(NAME fleetd_${s}
        COMMAND test_fleetd ${s} $<TARGET_FILE:fleetd>
                $<TARGET_FILE:fleet-sim> ${FL_FLEETD_MOSQUITTO}
                ${FLD_TEST_FLEETCTL})
      set_tests_properties(fleetd_${s} PROPERTIES TIMEOUT 240)
    endforeach()
  endif()
endif()
