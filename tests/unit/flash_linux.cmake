# firmware-hal Linux backends: file and block device, MTD (against a fake,
# and a real mtdram device when present), file-mapped simulator memory.
fl_test(test_flash_linux
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_flash_linux.c
  LIBS fl_hal_linux)
