# The signing-key chain from the command line: fleet-manifest certify,
# show-cert, sign --cert, verify --root [--key-floor]; fleetd keys init,
# rotate, revoke, show (integration/fleet_keys.sh).
if(TARGET fleetd AND TARGET fleet-manifest)
  add_test(NAME fleet_keys
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_keys.sh
                   $<TARGET_FILE:fleetd> $<TARGET_FILE:fleet-manifest>)
  set_tests_properties(fleet_keys PROPERTIES TIMEOUT 60)
endif()
