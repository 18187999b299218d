# fleet-agent, the Linux daemon, run as a device would be: a real mosquitto
# (generated configuration, free loopback port), a real HTTP server with
# byte ranges that cuts connections on purpose (support/http_range_server.c,
# libmicrohttpd), manifests signed with fleet-manifest, commands published
# with mosquitto_pub as docs/protocol.md's worked examples do. Checks an
# update through cuts, a broker restart and a kill -9 (resumed with Range),
# the trial and commit after a "reboot" (the agent exits 3 and is started
# again, the simulated boot loader deciding at start-up), a rollback
# without download, and bad, oversized, replayed and stale commands.
# fleet_agent_config runs every bad configuration of fleet_agent_bad/
# against its .expected, the usage errors, and the example configuration.
if(TARGET fleet-agent AND TARGET fleet-manifest)
  pkg_check_modules(FLA_TEST_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  find_package(OpenSSL 3.0 REQUIRED)
  find_package(Threads REQUIRED)
  add_executable(http_range_server ${CMAKE_CURRENT_SOURCE_DIR}/support/http_range_server.c)
  target_link_libraries(http_range_server PRIVATE PkgConfig::FLA_TEST_MHD
    OpenSSL::Crypto Threads::Threads)
  add_executable(free_port ${CMAKE_CURRENT_SOURCE_DIR}/integration/free_port.c)
  find_program(FL_MOSQUITTO_BROKER mosquitto PATHS /usr/sbin /usr/local/sbin)
  find_program(FL_MOSQUITTO_PUB mosquitto_pub)
  if(FL_MOSQUITTO_BROKER AND FL_MOSQUITTO_PUB)
    add_test(NAME fleet_agent_update
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_agent.sh
                     $<TARGET_FILE:fleet-agent> $<TARGET_FILE:fleet-manifest>
                     $<TARGET_FILE:http_range_server> $<TARGET_FILE:free_port>
                     ${FL_MOSQUITTO_BROKER})
    set_tests_properties(fleet_agent_update PROPERTIES TIMEOUT 180)
  endif()
  add_test(NAME fleet_agent_config
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_agent_config.sh
                   $<TARGET_FILE:fleet-agent> $<TARGET_FILE:fleet-manifest>
                   ${CMAKE_SOURCE_DIR})
  set_tests_properties(fleet_agent_config PROPERTIES TIMEOUT 120)
endif()
