# firmware-hal: flash interface and simulator, slot manager, installer,
# simulated boot loader.
fl_test(test_flash_sim
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_flash_sim.c
  LIBS fl_hal)
fl_test(test_slots
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_slots.c
  LIBS fl_hal fl_crypto_openssl)
fl_test(test_installer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_installer.c
  LIBS fl_hal fl_crypto_openssl)
fl_test(test_bootsim
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_bootsim.c
  LIBS fl_hal fl_crypto_openssl)
