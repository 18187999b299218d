# orchestrator/engine: the rollout engine (rules, randomized invariants)
# and the TZif time-zone port. fl_engine comes from orchestrator/; include
# it here too in case this tree's orchestrator/CMakeLists.txt does not.
if(NOT TARGET fl_engine)
  include(${CMAKE_SOURCE_DIR}/orchestrator/engine/engine.cmake)
endif()
fl_test(test_engine
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_engine.c
  LIBS fl_engine)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_engine_random.c)
  fl_test(test_engine_random
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_engine_random.c
    LIBS fl_engine
    TIMEOUT 300)
endif()
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_tzfile.c)
  fl_test(test_tzfile
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_tzfile.c
    LIBS fl_engine)
endif()
