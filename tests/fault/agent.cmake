# agent/core under power cuts and kills: every flash operation of an update
# driven through the agent, in every cut mode, on two geometries and two
# boot loaders (tests/fault/test_agent_powercut.c prints the counts).
if(TARGET fl_agent_core)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_agent_powercut
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fault/test_agent_powercut.c
    LIBS fl_agent_core fl_proto fl_hal fl_crypto_openssl OpenSSL::Crypto
    TIMEOUT 1800)
endif()
