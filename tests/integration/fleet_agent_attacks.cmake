# The attacks that travel over the wire, end to end against fleet-agent
# trusting only a root key (envelopes 2): a download longer than signed
# (a longer Content-Length, and more bytes in chunked encoding) from the
# real HTTP range server, and replayed old commands through a real
# mosquitto, each refused with the device's state folder unchanged
# (integration/fleet_agent_attacks.sh). The targets it needs are defined
# by fleet_agent.cmake.
if(TARGET fleet-agent AND TARGET fleet-manifest)
  find_program(FL_MOSQUITTO_BROKER mosquitto PATHS /usr/sbin /usr/local/sbin)
  find_program(FL_MOSQUITTO_PUB mosquitto_pub)
  if(FL_MOSQUITTO_BROKER AND FL_MOSQUITTO_PUB)
    add_test(NAME fleet_agent_attacks
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_agent_attacks.sh
                     $<TARGET_FILE:fleet-agent> $<TARGET_FILE:fleet-manifest>
                     $<TARGET_FILE:http_range_server> $<TARGET_FILE:free_port>
                     ${FL_MOSQUITTO_BROKER})
    set_tests_properties(fleet_agent_attacks PROPERTIES TIMEOUT 120)
  endif()
endif()
