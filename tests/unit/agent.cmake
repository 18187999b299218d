# agent/core: the update state machine over fake ports on a simulated
# device (tests/support/agent_fixture.h); manifests signed with OpenSSL.
if(TARGET fl_agent_core)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_agent
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_agent.c
    LIBS fl_agent_core fl_proto fl_hal fl_crypto_openssl OpenSSL::Crypto m
    TIMEOUT 300)
endif()
