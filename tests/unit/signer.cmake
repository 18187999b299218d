# fleetd's signing key (orchestrator/fleetd/signer.c) on real files:
# creation with mode 0600 in a 0700 directory, reload, refusal of a key
# others may read, of a directory others may write, of a file that is not a
# P-256 private key; a sealed manifest verified with the exported key; a
# certified key (DATA/keys/<kid>.cert) sealing envelopes 2, and an ended
# certificate refused.
if(TARGET fl_fleetd_http)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_signer
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_signer.c
    LIBS fl_fleetd_http OpenSSL::Crypto)
endif()
