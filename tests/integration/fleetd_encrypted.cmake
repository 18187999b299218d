# fleetd's encrypted images end to end, a scenario of test_fleetd
# (tests/integration/fleetd.cmake builds it): over TLS, fleetd seals the
# uploaded image (the store holds no plain byte of it, /artifacts/ does
# not serve it), wraps its content key for each fleet-sim device with the
# wrap key `fleetd pki devices` made, and the devices install it; a device
# whose key was removed fails with no_key (warned at the start), one whose
# registered key was swapped refuses its key (not_for_this_device), both
# with nothing installed; the KEK's size and mode, fleetd refusing a KEK
# open to others, `fleetd wrapkey add` refusing bad input.
if(TARGET test_fleetd)
  set(FLD_ENC_FLEETCTL "")
  if(TARGET fleetctl)
    set(FLD_ENC_FLEETCTL $<TARGET_FILE:fleetctl>)
  endif()
  add_test(NAME fleetd_encrypted
    COMMAND test_fleetd encrypted $<TARGET_FILE:fleetd>
            $<TARGET_FILE:fleet-sim> ${FL_FLEETD_MOSQUITTO}
            ${FLD_ENC_FLEETCTL})
  set_tests_properties(fleetd_encrypted PROPERTIES TIMEOUT 240)
endif()
