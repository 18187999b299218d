# The attacks on a device's updates, one test each, through agent/core on
# the simulated device (tests/support/agent_fixture.h): tampered manifest,
# certificate or image, unknown key or root, revoked, expired or
# wrong-role signing key, downgrade, wrong model, expired manifest,
# replayed command, download longer than signed; each refused with its
# specific result and reason, nothing installed or changed.
if(TARGET fl_agent_core)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_attacks
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_attacks.c
    LIBS fl_agent_core fl_proto fl_hal fl_crypto_openssl OpenSSL::Crypto m
    TIMEOUT 300)
endif()
