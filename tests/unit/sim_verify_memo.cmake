# agent/sim: fleet-sim's crypto port, signature checks memoized per
# process (verify_memo.c).
if(TARGET fl_crypto_openssl AND TARGET fleet-sim)
  fl_test(test_sim_verify_memo
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sim_verify_memo.c
            ${PROJECT_SOURCE_DIR}/agent/sim/verify_memo.c
    LIBS fl_crypto_openssl fl_proto fl_common)
  target_include_directories(test_sim_verify_memo PRIVATE
    ${PROJECT_SOURCE_DIR}/agent/sim)
endif()
