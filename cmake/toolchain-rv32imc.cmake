# toolchain-rv32imc.cmake -- bare-metal RV32IMC (ilp32, no FPU), with
# Debian's riscv64-unknown-elf GCC (multilib rv32im/ilp32). Used by the
# freestanding cross-build in cross/. Nothing is linked at configure time:
# there is no C library to link against, on purpose.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(FL_CROSS_PREFIX riscv64-unknown-elf-)
set(CMAKE_C_COMPILER ${FL_CROSS_PREFIX}gcc)
set(CMAKE_AR ${FL_CROSS_PREFIX}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${FL_CROSS_PREFIX}ranlib CACHE FILEPATH "")
set(CMAKE_NM ${FL_CROSS_PREFIX}nm CACHE FILEPATH "")
set(CMAKE_SIZE ${FL_CROSS_PREFIX}size CACHE FILEPATH "")

set(FL_CROSS_ARCH_FLAGS -march=rv32imc -mabi=ilp32)
# Code generation as a firmware that optimises for size builds it
# (cross/CMakeLists.txt and bench/sizes.sh add them): -msave-restore saves
# and restores registers through libgcc's shared __riscv_save_N and
# __riscv_restore_N instead of inline in every function (ESP-IDF:
# CONFIG_COMPILER_SAVE_RESTORE_LIBCALLS).
set(FL_CROSS_CODE_FLAGS -msave-restore)
string(JOIN " " _fl_flags ${FL_CROSS_ARCH_FLAGS})
set(CMAKE_C_FLAGS_INIT "${_fl_flags}")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
