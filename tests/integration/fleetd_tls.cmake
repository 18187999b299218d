# Device identity and the wire (docs/security.md), as scenarios of
# test_fleetd (tests/integration/fleetd.cmake builds it): `security`
# runs fleetd with TLS and its fleet CA and attacks it -- a client
# without a certificate, with one of another CA, in plain text, a device
# publishing as another (refused, never delivered, fleetd never hears of
# it), a device asking for another's client id, a device subscribed to
# another's commands while fleetd sends them (it receives nothing), HTTPS
# without the CA or with another one; `insecure` checks what --insecure
# says at start and in /metrics, and that a rollout still runs.
if(TARGET test_fleetd)
  set(FLD_TLS_FLEETCTL "")
  if(TARGET fleetctl)
    set(FLD_TLS_FLEETCTL $<TARGET_FILE:fleetctl>)
  endif()
  foreach(s security insecure)
    add_test(NAME fleetd_${s}
      COMMAND test_fleetd ${s} $<TARGET_FILE:fleetd>
              $<TARGET_FILE:fleet-sim> ${FL_FLEETD_MOSQUITTO}
              ${FLD_TLS_FLEETCTL})
    set_tests_properties(fleetd_${s} PROPERTIES TIMEOUT 240)
  endforeach()
endif()
