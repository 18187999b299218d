# kill -9 sweep of fleet-agent on the encrypted path: killed early in the
# transfer, mid-chunk several chunks in, after the last chunk and during
# activation; each restart resumes (Range at a record boundary, no
# byte fetched again once staged) and 2.0.0 commits with the plain image
# in its slot (integration/fleet_agent_sealed_kill.sh). The targets it
# needs are defined by fleet_agent.cmake.
if(TARGET fleet-agent AND TARGET fleet-manifest)
  find_program(FL_MOSQUITTO_BROKER mosquitto PATHS /usr/sbin /usr/local/sbin)
  find_program(FL_MOSQUITTO_PUB mosquitto_pub)
  if(FL_MOSQUITTO_BROKER AND FL_MOSQUITTO_PUB)
    add_test(NAME fleet_agent_sealed_kill
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_agent_sealed_kill.sh
                     $<TARGET_FILE:fleet-agent> $<TARGET_FILE:fleet-manifest>
                     $<TARGET_FILE:http_range_server> $<TARGET_FILE:free_port>
                     ${FL_MOSQUITTO_BROKER})
    set_tests_properties(fleet_agent_sealed_kill PROPERTIES TIMEOUT 120)
  endif()
endif()
