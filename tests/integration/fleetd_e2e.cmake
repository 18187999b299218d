# More fleetd end-to-end scenarios of tests/integration/test_fleetd.c (the
# program is built by fleetd.cmake): window (a maintenance window in the
# devices' own zone delays a stage until it opens), hold (a stage approval
# and a device hold lifted by approvals, recorded with who and when),
# rollback_away (a device away during a fleet-wide rollback, waited for
# until health.rollback_timeout, through kill -9, its late revert
# recorded), away (devices away during their offer, back later).
if(TARGET test_fleetd)
  set(FLD_E2E_FLEETCTL "")
  if(TARGET fleetctl)
    set(FLD_E2E_FLEETCTL $<TARGET_FILE:fleetctl>)
  endif()
  foreach(s window hold rollback_away away)
    add_test(NAME fleetd_${s}
      COMMAND test_fleetd ${s} $<TARGET_FILE:fleetd>
              $<TARGET_FILE:fleet-sim> ${FL_FLEETD_MOSQUITTO}
              ${FLD_E2E_FLEETCTL})
    set_tests_properties(fleetd_${s} PROPERTIES TIMEOUT 240)
  endforeach()
endif()
