# fleetd's operators end to end (tests/integration/test_fleetd.c, scenario
# auth): the real fleetd with its embedded mosquitto and four fleet-sim
# devices; requests without a token or with one too weak refused (401,
# 403) with nothing changed; `fleetd token create|revoke` while fleetd
# runs, a revoked token refused from the next request; a plan with
# four_eyes refusing an approval by who started the rollout (403
# four_eyes) and one without allowing it; every action in the event log
# with the token's name, and `fleetctl events` showing it.
if(TARGET test_fleetd AND FL_FLEETD_MOSQUITTO)
  set(FLD_AUTH_FLEETCTL "")
  if(TARGET fleetctl)
    set(FLD_AUTH_FLEETCTL $<TARGET_FILE:fleetctl>)
  endif()
  add_test(NAME fleetd_auth
    COMMAND test_fleetd auth $<TARGET_FILE:fleetd> $<TARGET_FILE:fleet-sim>
            ${FL_FLEETD_MOSQUITTO} ${FLD_AUTH_FLEETCTL})
  set_tests_properties(fleetd_auth PROPERTIES TIMEOUT 240)
endif()
