# The machine-checked house style: banned calls, portable cores free of the
# heap and OS headers, clang-format layout.
add_test(NAME style COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-style.sh)
