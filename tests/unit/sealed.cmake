# Encrypted images: the crypto port's AES-256-GCM, ECDH and HKDF on both
# ports against the same vectors; containers made by fl_seal_openssl and
# opened by agent/core's unseal stage; the key wrap; every attack on an
# encrypted image, on the stage and on a device through agent/core, and a
# power-cut sweep of an encrypted download.
if(TARGET fl_agent_core AND TARGET fl_seal_openssl AND TARGET fl_crypto_mbedtls)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_sealed
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sealed.c
    LIBS fl_agent_core fl_proto fl_hal fl_seal_openssl fl_unzip_zstd
      fl_crypto_openssl fl_crypto_mbedtls OpenSSL::Crypto m
    TIMEOUT 600)
endif()
