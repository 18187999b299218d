# orchestrator/fleetd: the runner over a real SQLite store in a temporary
# folder, a fake command port and a real P-256 signing key, driving a
# scripted fleet with the example plans.
if(NOT TARGET fl_runner)
  include(${CMAKE_SOURCE_DIR}/orchestrator/fleetd/runner.cmake)
endif()
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_runner.c)
  find_package(OpenSSL 3.0 REQUIRED) # the test signs with OpenSSL
  fl_test(test_runner
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_runner.c
    LIBS fl_runner fl_crypto_openssl OpenSSL::Crypto
    ARGS ${CMAKE_SOURCE_DIR}/plans
    TIMEOUT 300)
endif()
