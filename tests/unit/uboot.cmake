# firmware-hal/linux: the U-Boot environment boot backend (libubootenv)
# against file-backed environments, one copy and two, with a U-Boot
# emulator that boots from the files alone.
if(TARGET fl_hal_linux)
  fl_test(test_boot_uboot
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_boot_uboot.c
    LIBS fl_hal_linux)
endif()
