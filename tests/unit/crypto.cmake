# common: both crypto ports against the same vectors (one program, every
# test run once per port), and the portable byte helpers.
if(TARGET fl_crypto_openssl AND TARGET fl_crypto_mbedtls)
  find_package(OpenSSL 3.0 REQUIRED) # the test hooks OpenSSL's allocator
  fl_test(test_crypto
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_crypto.c
    LIBS fl_crypto_openssl fl_crypto_mbedtls OpenSSL::Crypto)
endif()
fl_test(test_bytes
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_bytes.c
  LIBS fl_common)
