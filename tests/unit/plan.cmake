# orchestrator/plan: semantic versions (common) and the plan parser and
# validator. test_plan reads the example plans from the source tree and
# wraps malloc to fail the Nth allocation of the library.
fl_test(test_semver
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_semver.c
  LIBS fl_common)
if(TARGET fl_plan)
  fl_test(test_plan
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_plan.c
    LIBS fl_plan
    ARGS ${CMAKE_SOURCE_DIR}/plans/examples)
  target_include_directories(test_plan PRIVATE
    ${CMAKE_SOURCE_DIR}/orchestrator/plan)
  target_link_options(test_plan PRIVATE -Wl,--wrap=malloc)
endif()
