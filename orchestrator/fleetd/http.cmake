# fl_fleetd_http: fleetd's HTTP side (orchestrator/fleetd): the REST API of
# docs/api.md, the artifact server, /metrics, all on libmicrohttpd driven by
# fl_loop; API tokens and roles (auth.c); and the fleet signing key
# (signer.c); the keys of encrypted images (imgkeys.c). The runner's functions
# (runner.h) are resolved at link time: by fleetd's runner, or by a test's
# fake. Included from orchestrator/CMakeLists.txt; paths are relative to
# this file so that tests may include it too.
if(NOT TARGET fl_fleetd_http AND TARGET fl_loop)
  pkg_check_modules(FL_MHD REQUIRED IMPORTED_TARGET GLOBAL libmicrohttpd)
  pkg_check_modules(FL_HTTP_CJSON REQUIRED IMPORTED_TARGET GLOBAL libcjson)
  find_package(OpenSSL 3.0 REQUIRED)
  if(NOT TARGET fl_store)
    include(${CMAKE_CURRENT_LIST_DIR}/../store/store.cmake)
  endif()
  if(NOT TARGET fl_engine)
    include(${CMAKE_CURRENT_LIST_DIR}/../engine/engine.cmake)
  endif()
  add_library(fl_fleetd_http STATIC
    ${CMAKE_CURRENT_LIST_DIR}/http.c
    ${CMAKE_CURRENT_LIST_DIR}/api.c
    ${CMAKE_CURRENT_LIST_DIR}/artifacts.c
    ${CMAKE_CURRENT_LIST_DIR}/auth.c
    ${CMAKE_CURRENT_LIST_DIR}/signer.c
    ${CMAKE_CURRENT_LIST_DIR}/imgkeys.c)
  target_include_directories(fl_fleetd_http PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(fl_fleetd_http PUBLIC fl_store fl_engine fl_plan
    fl_proto fl_sign_openssl fl_seal_openssl fl_crypto_openssl fl_loop
    PkgConfig::FL_MHD PkgConfig::FL_HTTP_CJSON PRIVATE OpenSSL::Crypto)
endif()
