# orchestrator/store: fleetd's store over SQLite on real files (queries,
# writes, transactions, batches, migrations, refusals, a failure of every
# database step). fl_store comes from orchestrator/; include it here too in
# case this tree's orchestrator/CMakeLists.txt does not.
if(NOT TARGET fl_store)
  include(${CMAKE_SOURCE_DIR}/orchestrator/store/store.cmake)
endif()
fl_test(test_store
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store.c
  LIBS fl_store PkgConfig::SQLITE3
  TIMEOUT 300)
