# orchestrator/store under kill -9: a child writing batches is killed with
# SIGKILL at ~50 seeded random moments; after each, the store must hold
# every batch the child saw committed, whole, and nothing in part.
if(NOT TARGET fl_store)
  include(${CMAKE_SOURCE_DIR}/orchestrator/store/store.cmake)
endif()
fl_test(test_store_crash
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fault/test_store_crash.c
  LIBS fl_store
  TIMEOUT 300)
