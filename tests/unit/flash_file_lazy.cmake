# firmware-hal file backend: the deferred erase (each byte written once by
# an erase-then-program; every observer sees the erased value) and the
# early write-back hint.
fl_test(test_flash_file_lazy
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_flash_file_lazy.c
  LIBS fl_hal_linux)
target_include_directories(test_flash_file_lazy PRIVATE
  ${CMAKE_SOURCE_DIR}/firmware-hal/linux)
