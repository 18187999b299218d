# fuzz_agent_config: fleet-agent's configuration parser under libFuzzer,
# in its text-only mode. The corpus (every bad configuration, the example
# and a minimal one) always replays as the test fuzz_agent_config_replay;
# with clang the real fuzzer `fuzz_agent_config` is built too:
#   cmake --build BUILD --target fuzz_agent_config
#   BUILD/tests/fuzz_agent_config -max_len=8192 NEW_DIR \
#     tests/fuzz/corpus/agent_config
if(TARGET fleet-agent)
  pkg_check_modules(FLA_FUZZ_YAML REQUIRED IMPORTED_TARGET yaml-0.1)
  find_package(OpenSSL 3.0 REQUIRED)
  set(FL_FUZZ_ACFG_SRC ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_agent_config.c
      ${CMAKE_SOURCE_DIR}/agent/linux/config.c)
  set(FL_FUZZ_ACFG_CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/agent_config)

  add_executable(fuzz_agent_config_replay ${FL_FUZZ_ACFG_SRC})
  target_compile_definitions(fuzz_agent_config_replay PRIVATE FL_FUZZ_REPLAY)
  target_include_directories(fuzz_agent_config_replay PRIVATE
    ${CMAKE_SOURCE_DIR}/agent/linux ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
  target_link_libraries(fuzz_agent_config_replay PRIVATE fl_agent_linux
    fl_crypto_openssl fl_seal_openssl PkgConfig::FLA_FUZZ_YAML OpenSSL::Crypto)
  add_test(NAME fuzz_agent_config_replay
           COMMAND fuzz_agent_config_replay ${FL_FUZZ_ACFG_CORPUS})

  if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    add_executable(fuzz_agent_config ${FL_FUZZ_ACFG_SRC})
    target_compile_options(fuzz_agent_config PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_agent_config PRIVATE -fsanitize=fuzzer)
    target_include_directories(fuzz_agent_config PRIVATE
      ${CMAKE_SOURCE_DIR}/agent/linux)
    target_link_libraries(fuzz_agent_config PRIVATE fl_agent_linux
      fl_crypto_openssl fl_seal_openssl PkgConfig::FLA_FUZZ_YAML OpenSSL::Crypto)
  endif()
endif()
