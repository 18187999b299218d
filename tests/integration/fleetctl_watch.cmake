# fleetctl watch end to end (integration/fleetctl_watch.sh): the real
# fleetctl in a tmux terminal against a real fleetd (embedded mosquitto)
# and fleet-sim, keys pressed (approve, pause, roll back with y, help, Tab,
# q, Ctrl-C), the screen read with capture-pane and fleetd's state through
# the API; `fleetctl rollback` with no NAME asking on a terminal; line mode
# beside it.
if(TARGET fleetctl AND TARGET fleetd AND TARGET fleet-sim AND TARGET free_port
   AND TARGET fleetctl_json_get)
  find_program(FL_WATCH_TMUX tmux)
  find_program(FL_WATCH_MOSQUITTO mosquitto PATHS /usr/sbin /usr/local/sbin)
  if(FL_WATCH_TMUX AND FL_WATCH_MOSQUITTO)
    add_test(NAME fleetctl_watch
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleetctl_watch.sh
                     $<TARGET_FILE:fleetctl> $<TARGET_FILE:fleetd>
                     $<TARGET_FILE:fleet-sim> $<TARGET_FILE:free_port>
                     $<TARGET_FILE:fleetctl_json_get> ${FL_WATCH_MOSQUITTO})
    set_tests_properties(fleetctl_watch PROPERTIES TIMEOUT 120)
  endif()
endif()
