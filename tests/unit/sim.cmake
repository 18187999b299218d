# agent/sim: fleet-sim's shared-page flash and simulated device (NOR rules,
# the same results as the firmware-hal simulator with and without faults,
# sharing across devices, allocation failures, a power-cut sweep of an
# install on a cloned device).
if(TARGET fl_simdev)
  fl_test(test_flash_shared
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_flash_shared.c
    LIBS fl_simdev fl_hal fl_crypto_openssl
    TIMEOUT 120)
endif()
