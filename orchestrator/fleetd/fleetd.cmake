# fleetd, the orchestrator (orchestrator/fleetd/): main loop (main.c),
# settings (config.c), fleetd's MQTT client (mqtt_server.c), the
# embedded mosquitto it supervises (broker.c), the fleet CA and
# `fleetd pki` (pki.c, pki_cmd.c), `fleetd keys` (keys_cmd.c: the root
# and the signing key's certificates), `fleetd wrapkey` (wrapkey_cmd.c:
# the wrap keys of encrypted images), over the runner (fl_runner)
# and the HTTP side (fl_fleetd_http; it calls the runner, so fl_runner
# comes after it on the link line). Included from
# orchestrator/CMakeLists.txt; paths are relative to this file.
if(NOT TARGET fleetd AND TARGET fl_fleetd_http AND TARGET fl_loop)
  if(NOT TARGET fl_runner)
    include(${CMAKE_CURRENT_LIST_DIR}/runner.cmake)
  endif()
  pkg_check_modules(FLD_MOSQ REQUIRED IMPORTED_TARGET GLOBAL libmosquitto)
  pkg_check_modules(FLD_YAML REQUIRED IMPORTED_TARGET GLOBAL yaml-0.1)
  add_executable(fleetd
    ${CMAKE_CURRENT_LIST_DIR}/main.c
    ${CMAKE_CURRENT_LIST_DIR}/config.c
    ${CMAKE_CURRENT_LIST_DIR}/mqtt_server.c
    ${CMAKE_CURRENT_LIST_DIR}/broker.c
    ${CMAKE_CURRENT_LIST_DIR}/token_cmd.c
    ${CMAKE_CURRENT_LIST_DIR}/pki.c
    ${CMAKE_CURRENT_LIST_DIR}/pki_crl.c
    ${CMAKE_CURRENT_LIST_DIR}/pki_cmd.c
    ${CMAKE_CURRENT_LIST_DIR}/keys_cmd.c
    ${CMAKE_CURRENT_LIST_DIR}/wrapkey_cmd.c)
  find_package(OpenSSL 3.0 REQUIRED)
  target_link_libraries(fleetd PRIVATE fl_fleetd_http fl_runner fl_loop
    fl_engine fl_store fl_proto fl_common PkgConfig::FLD_MOSQ
    PkgConfig::FLD_YAML OpenSSL::Crypto)
  target_compile_definitions(fleetd PRIVATE
    FLEETD_VERSION="${PROJECT_VERSION}")
endif()
