# orchestrator/engine: how a fleet-wide rollback ends (devices away with a
# rollback unanswered, health.rollback_timeout, late results).
if(NOT TARGET fl_engine)
  include(${CMAKE_SOURCE_DIR}/orchestrator/engine/engine.cmake)
endif()
fl_test(test_engine_rollback
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_engine_rollback.c
  LIBS fl_engine)
