# fl_engine: the pure rollout engine (orchestrator/engine) and the Linux
# time-zone port it is given in fleetd (orchestrator/tz, TZif reader).
# Included from orchestrator/CMakeLists.txt; paths are relative to this
# file so that tests and benches may include it too when it is not.
if(NOT TARGET fl_engine)
  file(GLOB FL_ENGINE_SRC CONFIGURE_DEPENDS
       ${CMAKE_CURRENT_LIST_DIR}/*.c
       ${CMAKE_CURRENT_LIST_DIR}/../tz/*.c)
  add_library(fl_engine STATIC ${FL_ENGINE_SRC})
  target_include_directories(fl_engine PUBLIC
    ${CMAKE_CURRENT_LIST_DIR}/../include)
  target_link_libraries(fl_engine PUBLIC fl_common m)
endif()
