# fuzz_proto and fuzz_manifest: the MQTT payload decoders, the topic parser
# and the signed manifest under libFuzzer. The corpora always replay as the
# tests fuzz_proto_replay and fuzz_manifest_replay (any compiler); with
# clang the real fuzzers are built too, over a copy of fl_proto and
# fl_common instrumented for coverage:
#   CC=clang cmake -S . -B build/fuzz && cmake --build build/fuzz \
#       --target fuzz_proto fuzz_manifest
#   build/fuzz/tests/fuzz_proto -max_len=2100 NEW_DIR tests/fuzz/corpus/proto
#   build/fuzz/tests/fuzz_manifest -max_len=2100 NEW_DIR \
#       tests/fuzz/corpus/manifest
if(TARGET fl_proto AND TARGET fl_crypto_openssl AND TARGET fl_crypto_mbedtls)
  set(FL_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)

  foreach(t proto manifest)
    add_executable(fuzz_${t}_replay ${FL_FUZZ_DIR}/fuzz_${t}.c)
    target_compile_definitions(fuzz_${t}_replay PRIVATE FL_FUZZ_REPLAY)
    target_link_libraries(fuzz_${t}_replay PRIVATE fl_proto
      fl_crypto_openssl fl_crypto_mbedtls)
    add_test(NAME fuzz_${t}_replay
             COMMAND fuzz_${t}_replay ${FL_FUZZ_DIR}/corpus/${t})
  endforeach()

  if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    pkg_check_modules(FL_FUZZ_CJSON REQUIRED IMPORTED_TARGET libcjson)
    file(GLOB FL_PROTO_FUZZ_SRC ${CMAKE_SOURCE_DIR}/common/proto/*.c
         ${CMAKE_SOURCE_DIR}/common/src/*.c)
    add_library(fl_proto_fuzz STATIC ${FL_PROTO_FUZZ_SRC})
    target_compile_options(fl_proto_fuzz PRIVATE -fsanitize=fuzzer-no-link)
    target_include_directories(fl_proto_fuzz PUBLIC
      ${CMAKE_SOURCE_DIR}/common/include)
    target_link_libraries(fl_proto_fuzz PUBLIC PkgConfig::FL_FUZZ_CJSON)
    foreach(t proto manifest)
      add_executable(fuzz_${t} ${FL_FUZZ_DIR}/fuzz_${t}.c)
      target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
      target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
      # the ports come after the instrumented core, which they need
      target_link_libraries(fuzz_${t} PRIVATE fl_proto_fuzz
        fl_crypto_openssl fl_crypto_mbedtls fl_proto_fuzz)
    endforeach()
  endif()
endif()
