# fl_store: fleetd's store behind one interface (orchestrator/store): the
# front (argument checks, report queue) and the SQLite backend with its
# migrations. Included from orchestrator/CMakeLists.txt; paths are relative
# to this file so that tests and benches may include it too when it is not.
if(NOT TARGET fl_store)
  pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET GLOBAL sqlite3)
  file(GLOB FL_STORE_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
  add_library(fl_store STATIC ${FL_STORE_SRC})
  target_include_directories(fl_store PUBLIC
    ${CMAKE_CURRENT_LIST_DIR}/../include)
  target_link_libraries(fl_store PUBLIC fl_common PRIVATE PkgConfig::SQLITE3)
endif()
