# fleetctl's token (tests/integration/fleetctl_server.sh, case auth)
# against the fake fleetd API wanting one: none found (401, where
# fleetctl looked), a wrong one, --token over FLEET_TOKEN, --token-file,
# FLEET_TOKEN_FILE, fleetd's default admin.token, a malformed one, and a
# 403 printed as "forbidden: needs role ...".
if(TARGET fleetctl AND TARGET fleetctl_json_get AND TARGET fake_api_server)
  add_test(NAME fleetctl_server_auth
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleetctl_server.sh
                   auth $<TARGET_FILE:fleetctl> $<TARGET_FILE:fake_api_server>
                   $<TARGET_FILE:fleetctl_json_get> ${CMAKE_SOURCE_DIR})
  set_tests_properties(fleetctl_server_auth PROPERTIES TIMEOUT 60)
endif()
