# dashboard-cli (fleetctl): the inventory reader and the simulation of
# `fleetctl plan simulate`. Both read the example plans and the sample
# inventory (plans/examples/fleet/inventory.yaml) from the source tree.
if(TARGET fl_fleetctl)
  fl_test(test_inventory
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_inventory.c
    LIBS fl_fleetctl
    ARGS ${CMAKE_SOURCE_DIR}/plans/examples)
  # Fails the Nth allocation of the reader (see the test's top comment).
  target_link_options(test_inventory PRIVATE
    -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
  fl_test(test_simulate
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_simulate.c
    LIBS fl_fleetctl
    ARGS ${CMAKE_SOURCE_DIR}/plans/examples
    TIMEOUT 300)
endif()
