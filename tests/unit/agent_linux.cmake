# agent/linux's adapters that need no server: the epoll loop (timer order,
# descriptor events, deletion inside a callback, EINTR) and the file store
# (round trip, missing, too big, a stale .tmp, every failing system call,
# a read-only directory).
if(TARGET fl_loop)
  fl_test(test_loop
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_loop.c
    LIBS fl_loop)
endif()
if(TARGET fl_agent_linux)
  fl_test(test_file_store
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_file_store.c
    LIBS fl_agent_linux)
endif()
# fleet-agent's device port and commands (device.c, hook.c) on real files
# and processes: facts, health samples, the hook and its timeout, reboot.
if(TARGET fleet-agent)
  fl_test(test_agent_device
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_agent_device.c
            ${CMAKE_SOURCE_DIR}/agent/linux/device.c
            ${CMAKE_SOURCE_DIR}/agent/linux/hook.c
    LIBS fl_agent_linux m
    TIMEOUT 60)
  target_include_directories(test_agent_device PRIVATE
    ${CMAKE_SOURCE_DIR}/agent/linux)
endif()
