# fleetd's API tokens and roles (orchestrator/fleetd/auth.c): the role
# matrix cell by cell, role and token names, the Authorization header's
# bearer token, and tokens made and checked against a real store (unknown,
# wrong secret, malformed, revoked, a role fleetd does not know).
if(TARGET fl_fleetd_http)
  fl_test(test_auth
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_auth.c
    LIBS fl_fleetd_http fl_store)
endif()
