# fleetctl's server commands run as an operator would, against a fake
# fleetd API (support/fake_api_server.c, libmicrohttpd on a free loopback
# port, answering the canned JSON of unit/fleetctl/api/ per route and
# recording each request): rollout start (upload skipped when HEAD says
# 200, done when 404, refusals), list, status, the actions, rollback
# (preview, refusal without a terminal, --yes, the one active rollout,
# --wait following states, y/N on a terminal through script(1)), error
# mapping (404, 409, 422 with diagnostics, 500, 503, not JSON, too large,
# escapes), a refused connection, devices over pages with filters, device,
# events and --follow's long poll, label, and usage errors.
if(TARGET fleetctl AND TARGET fleetctl_json_get)
  pkg_check_modules(FLCTL_IT_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  pkg_check_modules(FLCTL_IT_CJSON REQUIRED IMPORTED_TARGET libcjson)
  find_package(OpenSSL 3.0 REQUIRED)
  find_package(Threads REQUIRED)
  add_executable(fake_api_server ${CMAKE_CURRENT_SOURCE_DIR}/support/fake_api_server.c)
  target_link_libraries(fake_api_server PRIVATE PkgConfig::FLCTL_IT_MHD
    PkgConfig::FLCTL_IT_CJSON OpenSSL::Crypto Threads::Threads)
  foreach(case start start_upload start_invalid list status actions
          rollback_refused rollback_yes rollback_pick rollback_wait
          rollback_tty errors refused devices device events events_follow
          label usage)
    add_test(NAME fleetctl_server_${case}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleetctl_server.sh
                     ${case} $<TARGET_FILE:fleetctl> $<TARGET_FILE:fake_api_server>
                     $<TARGET_FILE:fleetctl_json_get> ${CMAKE_SOURCE_DIR})
    set_tests_properties(fleetctl_server_${case} PROPERTIES TIMEOUT 60)
  endforeach()
endif()
