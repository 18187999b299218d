# An encrypted image over the wire, end to end against fleet-agent with
# its wrap key: sealed with fleet-manifest seal, signed with sign --sealed,
# its key wrapped for the device, served by the real HTTP range server
# (the connection cut once, resumed with Range) through a real mosquitto;
# a key wrapped for another device refused (not_for_this_device) with
# nothing downloaded and the state folder unchanged; bad wrap keys refused
# by the configuration (integration/fleet_agent_sealed.sh). The targets it
# needs are defined by fleet_agent.cmake.
if(TARGET fleet-agent AND TARGET fleet-manifest)
  find_program(FL_MOSQUITTO_BROKER mosquitto PATHS /usr/sbin /usr/local/sbin)
  find_program(FL_MOSQUITTO_PUB mosquitto_pub)
  if(FL_MOSQUITTO_BROKER AND FL_MOSQUITTO_PUB)
    add_test(NAME fleet_agent_sealed
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_agent_sealed.sh
                     $<TARGET_FILE:fleet-agent> $<TARGET_FILE:fleet-manifest>
                     $<TARGET_FILE:http_range_server> $<TARGET_FILE:free_port>
                     ${FL_MOSQUITTO_BROKER})
    set_tests_properties(fleet_agent_sealed PROPERTIES TIMEOUT 120)
  endif()
endif()
