fl_test(test_powercut
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fault/test_powercut.c
  LIBS fl_hal fl_crypto_openssl
  TIMEOUT 900)
fl_test(test_brownout
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fault/test_brownout.c
  LIBS fl_hal fl_crypto_openssl
  TIMEOUT 300)
