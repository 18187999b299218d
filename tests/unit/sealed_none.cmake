# agent/core built without encrypted images, as agent/esp32 builds it
# (agent/core/noseal/sealed_none.c in place of sealed.c): an encrypted
# offer is refused untaken, a plain image still installs (test_sealed.c
# built with FL_TEST_SEALED_NONE).
if(TARGET fl_agent_core AND TARGET fl_seal_openssl AND TARGET fl_crypto_mbedtls)
  find_package(OpenSSL 3.0 REQUIRED)
  file(GLOB fl_core_plain_src CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/agent/core/*.c)
  list(FILTER fl_core_plain_src EXCLUDE REGEX "/sealed\\.c$")
  add_library(fl_agent_core_plain STATIC ${fl_core_plain_src}
    ${CMAKE_SOURCE_DIR}/agent/core/noseal/sealed_none.c)
  target_include_directories(fl_agent_core_plain PUBLIC
    ${CMAKE_SOURCE_DIR}/agent/core/include)
  target_link_libraries(fl_agent_core_plain PUBLIC fl_hal fl_common fl_proto)
  fl_test(test_sealed_none
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sealed.c
    LIBS fl_agent_core_plain fl_proto fl_hal fl_seal_openssl fl_unzip_zstd
      fl_crypto_openssl fl_crypto_mbedtls OpenSSL::Crypto m
    TIMEOUT 300)
  target_compile_definitions(test_sealed_none PRIVATE FL_TEST_SEALED_NONE)
  # The tests of the full build are compiled, not run, here.
  target_compile_options(test_sealed_none PRIVATE -Wno-unused-function)
endif()
