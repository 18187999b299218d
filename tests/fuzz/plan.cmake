# fuzz_plan: the plan parser under libFuzzer. The corpus always replays as
# the test fuzz_plan_replay (any compiler); with clang the real fuzzer
# `fuzz_plan` is built too, over a copy of fl_plan instrumented for
# coverage:
#   cmake --build BUILD --target fuzz_plan
#   BUILD/tests/fuzz_plan -max_len=4096 NEW_DIR tests/fuzz/corpus/plan
if(TARGET fl_plan)
  set(FL_FUZZ_PLAN_SRC ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_plan.c)
  set(FL_FUZZ_PLAN_CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/plan)

  add_executable(fuzz_plan_replay ${FL_FUZZ_PLAN_SRC})
  target_compile_definitions(fuzz_plan_replay PRIVATE FL_FUZZ_REPLAY)
  target_link_libraries(fuzz_plan_replay PRIVATE fl_plan)
  add_test(NAME fuzz_plan_replay
           COMMAND fuzz_plan_replay ${FL_FUZZ_PLAN_CORPUS})

  if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    get_target_property(FL_PLAN_SOURCES fl_plan SOURCES)
    get_target_property(FL_PLAN_DIR fl_plan SOURCE_DIR)
    set(FL_PLAN_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/common/src/semver.c)
    foreach(s ${FL_PLAN_SOURCES})
      if(IS_ABSOLUTE ${s})
        list(APPEND FL_PLAN_FUZZ_SOURCES ${s})
      else()
        list(APPEND FL_PLAN_FUZZ_SOURCES ${FL_PLAN_DIR}/${s})
      endif()
    endforeach()
    add_library(fl_plan_fuzz STATIC ${FL_PLAN_FUZZ_SOURCES})
    target_compile_options(fl_plan_fuzz PRIVATE -fsanitize=fuzzer-no-link)
    target_include_directories(fl_plan_fuzz PUBLIC
      ${CMAKE_SOURCE_DIR}/orchestrator/include
      ${CMAKE_SOURCE_DIR}/common/include)
    target_link_libraries(fl_plan_fuzz PUBLIC PkgConfig::YAML)

    add_executable(fuzz_plan ${FL_FUZZ_PLAN_SRC})
    target_compile_options(fuzz_plan PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_plan PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_plan PRIVATE fl_plan_fuzz)
  endif()
endif()
