# The demo: the most complete story the project can tell so far.
if(TARGET fl_crypto_openssl)
  add_executable(demo_ab ${CMAKE_CURRENT_SOURCE_DIR}/demo_ab.c)
  target_link_libraries(demo_ab PRIVATE fl_hal fl_crypto_openssl)
endif()
