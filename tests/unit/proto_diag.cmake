# common/proto's diagnostics and vocabularies (test_proto_diag.c), against
# the codec as Linux builds it (test_proto_diag: "field: reason") and as a
# microcontroller builds it, with FL_PROTO_COMPACT_DIAG
# (test_proto_compact: the field alone, the same codes). fl_proto_compact
# is that second build of the codec's sources, for this test only.
if(TARGET fl_proto)
  pkg_check_modules(FL_COMPACT_CJSON REQUIRED IMPORTED_TARGET libcjson)
  file(GLOB FL_PROTO_COMPACT_SRC ${CMAKE_SOURCE_DIR}/common/proto/*.c)
  add_library(fl_proto_compact STATIC ${FL_PROTO_COMPACT_SRC})
  target_compile_definitions(fl_proto_compact PUBLIC FL_PROTO_COMPACT_DIAG)
  target_include_directories(fl_proto_compact PUBLIC
    ${CMAKE_SOURCE_DIR}/common/include)
  target_link_libraries(fl_proto_compact PUBLIC fl_common
    PkgConfig::FL_COMPACT_CJSON)
  fl_test(test_proto_diag
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_proto_diag.c
    LIBS fl_proto)
  fl_test(test_proto_compact
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_proto_diag.c
    LIBS fl_proto_compact)
endif()
