# Schema version 2 of the job stores and the shared state of runtimes
# (buckets, response cache, spend), records by route variant, and
# `llmsvc records --by variant`. Included at the end of tests/CMakeLists.txt.
#
#   test_store_ops  every engine test on a real SQLite file and, built with
#                   LLMSVC_WITH_POSTGRES, again on a throwaway PostgreSQL
#                   server started by tests/pgharness.h (needs a PostgreSQL
#                   server installed; Debian: postgresql)

llmsvc_add_test(test_store_ops TIMEOUT 600)
set_property(TEST test_store_ops APPEND PROPERTY LABELS jobs)
if(LLMSVC_WITH_POSTGRES)
  # pgharness comes from pg_tests.cmake, included before this file
  target_link_libraries(test_store_ops PRIVATE pgharness)
  target_compile_definitions(test_store_ops PRIVATE HAVE_PG)
  set_property(TEST test_store_ops APPEND PROPERTY LABELS postgres)
endif()
