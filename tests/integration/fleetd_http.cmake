# fleetd's HTTP side (orchestrator/fleetd) against a real libcurl client:
# uploads, ranged downloads, every route's errors, devices, rollouts through
# a fake runner (tests/support/fake_runner.c, until runner.c lands), the
# events long poll, /metrics as Prometheus text, descriptors past 1023.
if(TARGET fl_fleetd_http)
  pkg_check_modules(FL_TEST_CURL REQUIRED IMPORTED_TARGET libcurl)
  find_package(Threads REQUIRED)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_http
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_http.c
            ${CMAKE_CURRENT_SOURCE_DIR}/support/fake_runner.c
    LIBS fl_fleetd_http PkgConfig::FL_TEST_CURL Threads::Threads
         OpenSSL::Crypto
    TIMEOUT 300)
endif()
