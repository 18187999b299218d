# common/proto: the wire protocol codec (test_proto) and the signed
# manifest, verified through both crypto ports (test_manifest).
if(TARGET fl_proto)
  fl_test(test_proto
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_proto.c
    LIBS fl_proto)
  if(TARGET fl_crypto_openssl AND TARGET fl_crypto_mbedtls)
    find_package(OpenSSL 3.0 REQUIRED) # the test signs with OpenSSL
    fl_test(test_manifest
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_manifest.c
      LIBS fl_proto fl_crypto_openssl fl_crypto_mbedtls OpenSSL::Crypto)
  endif()
endif()
