# fleetd's MQTT client with publishing connections
# (tests/integration/test_mqtt_pubs.c): order per device, spread over the
# publishers, the stop's drain and a broker restart, against a real
# mosquitto on a free loopback port.
if(TARGET fl_runner AND TARGET fl_loop)
  find_program(FL_PUBS_MOSQUITTO mosquitto PATHS /usr/sbin /usr/local/sbin)
  if(FL_PUBS_MOSQUITTO)
    pkg_check_modules(FL_PUBS_MOSQ REQUIRED IMPORTED_TARGET libmosquitto)
    fl_test(test_mqtt_pubs
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_mqtt_pubs.c
              ${CMAKE_SOURCE_DIR}/orchestrator/fleetd/mqtt_server.c
      LIBS fl_runner fl_loop fl_proto PkgConfig::FL_PUBS_MOSQ
      ARGS ${FL_PUBS_MOSQUITTO}
      TIMEOUT 120)
  endif()
endif()
