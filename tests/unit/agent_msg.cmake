# The agent's messages as a device's transport encodes them
# (test_agent_msg.c): the widest fit the agent's message buffer and encode
# there in place; the agent checks its configuration and the device's
# metrics. test_agent_msg_device runs the codec tests against the codec
# as a device builds it (FL_PROTO_COMPACT_DIAG, FL_PROTO_TRUST_OWN:
# fl_proto_device, for this test only).
if(TARGET fl_agent_core AND TARGET fl_proto)
  find_package(OpenSSL 3.0 REQUIRED)
  fl_test(test_agent_msg
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_agent_msg.c
    LIBS fl_agent_core fl_proto fl_hal fl_crypto_openssl OpenSSL::Crypto m)
  pkg_check_modules(FL_DEVICE_CJSON REQUIRED IMPORTED_TARGET libcjson)
  file(GLOB FL_PROTO_DEVICE_SRC ${CMAKE_SOURCE_DIR}/common/proto/*.c)
  add_library(fl_proto_device STATIC ${FL_PROTO_DEVICE_SRC})
  target_compile_definitions(fl_proto_device PUBLIC FL_PROTO_COMPACT_DIAG
    FL_PROTO_TRUST_OWN)
  target_include_directories(fl_proto_device PUBLIC
    ${CMAKE_SOURCE_DIR}/common/include)
  target_link_libraries(fl_proto_device PUBLIC fl_common
    PkgConfig::FL_DEVICE_CJSON)
  fl_test(test_agent_msg_device
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_agent_msg.c
    LIBS fl_proto_device m)
  target_compile_definitions(test_agent_msg_device PRIVATE
    FL_TEST_DEVICE_CODEC)
  target_include_directories(test_agent_msg_device PRIVATE
    ${CMAKE_SOURCE_DIR}/agent/core/include
    ${CMAKE_SOURCE_DIR}/firmware-hal/include)
endif()
