# fl_runner: fleetd's core (orchestrator/fleetd/runner.h): the inventory,
# one engine per active rollout driven by device reports, operator actions
# and the clock, every input and decision logged in the store before it is
# carried out. The sources are listed (not globbed): the rest of fleetd
# lives in the same folder. Included from orchestrator/CMakeLists.txt;
# paths are relative to this file so that tests may include it too.
if(NOT TARGET fl_runner)
  if(NOT TARGET fl_engine)
    include(${CMAKE_CURRENT_LIST_DIR}/../engine/engine.cmake)
  endif()
  if(NOT TARGET fl_store)
    include(${CMAKE_CURRENT_LIST_DIR}/../store/store.cmake)
  endif()
  add_library(fl_runner STATIC
    ${CMAKE_CURRENT_LIST_DIR}/runner.c
    ${CMAKE_CURRENT_LIST_DIR}/runner_api.c
    ${CMAKE_CURRENT_LIST_DIR}/runner_cmd.c
    ${CMAKE_CURRENT_LIST_DIR}/runner_log.c)
  target_include_directories(fl_runner PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(fl_runner PUBLIC fl_engine fl_plan fl_store fl_proto
    fl_crypto_openssl fl_common)
endif()
