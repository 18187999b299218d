# The signed-manifest vectors (tests/vectors/manifest: good and bad
# certificate chains and bodies) through both crypto ports, OpenSSL and
# Mbed TLS, which must agree with each vector's expected answer.
if(TARGET fl_proto AND TARGET fl_crypto_openssl AND TARGET fl_crypto_mbedtls)
  fl_test(test_manifest_vectors
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_manifest_vectors.c
    LIBS fl_proto fl_crypto_openssl fl_crypto_mbedtls
    ARGS ${CMAKE_CURRENT_SOURCE_DIR}/vectors/manifest)
endif()
