# fleet-manifest, the signing tool, run as a user would on a temporary
# folder: keygen/pubkey/sign/verify/show, exit codes 0/1/2, and a tampered
# or expired manifest failing verify.
if(TARGET fleet-manifest)
  add_test(NAME fleet_manifest
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_manifest.sh
                   $<TARGET_FILE:fleet-manifest>)
  set_tests_properties(fleet_manifest PROPERTIES TIMEOUT 120)
endif()
