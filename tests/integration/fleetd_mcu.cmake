# fleetd's encrypted images for microcontrollers, a scenario of
# test_fleetd (tests/integration/fleetd.cmake builds it): fleet-sim devices
# taking chunks of at most 4 KiB (--chunk-max 4096); a plan with
# artifact.compress: false and chunk: 4KiB refused 409 not_stored until the
# image is uploaded in that form (?compress=false&chunk=4096), which keeps
# a container and content record of its own beside the default form; bad
# forms refused 400; the rollout installs; a plan with 8 KiB chunks
# (uploaded by fleetctl, when built) refused by its device with
# chunk_size, nothing installed.
if(TARGET test_fleetd)
  set(FLD_MCU_FLEETCTL "")
  if(TARGET fleetctl)
    set(FLD_MCU_FLEETCTL $<TARGET_FILE:fleetctl>)
  endif()
  add_test(NAME fleetd_mcu
    COMMAND test_fleetd mcu $<TARGET_FILE:fleetd>
            $<TARGET_FILE:fleet-sim> ${FL_FLEETD_MOSQUITTO}
            ${FLD_MCU_FLEETCTL})
  set_tests_properties(fleetd_mcu PROPERTIES TIMEOUT 240)
endif()
