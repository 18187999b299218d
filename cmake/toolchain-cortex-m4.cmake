# toolchain-cortex-m4.cmake -- bare-metal Cortex-M4F (Thumb-2, hard-float
# ABI with the single-precision FPv4-SP-D16 unit, as on STM32F4, nRF52 and
# most M4 parts), with Debian's arm-none-eabi GCC. The portable code uses
# no floating point, so the float ABI changes nothing in the figures. Used
# by the freestanding cross-build in cross/.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(FL_CROSS_PREFIX arm-none-eabi-)
set(CMAKE_C_COMPILER ${FL_CROSS_PREFIX}gcc)
set(CMAKE_AR ${FL_CROSS_PREFIX}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${FL_CROSS_PREFIX}ranlib CACHE FILEPATH "")
set(CMAKE_NM ${FL_CROSS_PREFIX}nm CACHE FILEPATH "")
set(CMAKE_SIZE ${FL_CROSS_PREFIX}size CACHE FILEPATH "")

set(FL_CROSS_ARCH_FLAGS -mcpu=cortex-m4 -mthumb -mfloat-abi=hard
    -mfpu=fpv4-sp-d16)
string(JOIN " " _fl_flags ${FL_CROSS_ARCH_FLAGS})
set(CMAKE_C_FLAGS_INIT "${_fl_flags}")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
