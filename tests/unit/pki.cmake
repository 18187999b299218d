# The fleet CA's revocation (orchestrator/fleetd/pki.c and pki_crl.c,
# compiled in: part of the fleetd program) on real files: the index of
# issued certificates, the CRL checked by OpenSSL's verifier as the
# broker runs it, revoking twice, unknown ids and bad input changing
# nothing, damaged files refused, a CRL near or past its next update
# re-signed.
if(TARGET fleetd)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_pki
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_pki.c
            ${CMAKE_SOURCE_DIR}/orchestrator/fleetd/pki.c
            ${CMAKE_SOURCE_DIR}/orchestrator/fleetd/pki_crl.c
    LIBS fl_common OpenSSL::Crypto)
  target_include_directories(test_pki PRIVATE
    ${CMAKE_SOURCE_DIR}/orchestrator/fleetd)
endif()
