# Revoking a device's certificate (docs/security.md, "Operating the PKI"),
# a scenario of test_fleetd (tests/integration/fleetd.cmake builds it):
# `fleetd pki revoke` while fleetd runs restarts its broker, the revoked
# device is dropped and refused while another reconnects and a rollout
# completes; repeats, unknown ids and bad input change nothing; a CRL near
# its next update is re-signed, running and at start; a revocation made
# while fleetd is stopped holds at its next start.
if(TARGET test_fleetd)
  add_test(NAME fleetd_revoke
    COMMAND test_fleetd revoke $<TARGET_FILE:fleetd>
            $<TARGET_FILE:fleet-sim> ${FL_FLEETD_MOSQUITTO})
  set_tests_properties(fleetd_revoke PROPERTIES TIMEOUT 240)
endif()
