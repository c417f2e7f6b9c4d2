# The PostgreSQL job store's tests, against a real throwaway server that
# tests/pgharness.[ch] starts (initdb + pg_ctl as an unprivileged user, in a
# folder under /tmp). Included at the end of tests/CMakeLists.txt.
#
#   pgharness    the harness, a static library for tests and benchmarks
#   pg_cluster   the harness as a program: prints a server's URL, runs until
#                SIGTERM or stdin closes (bin/pg_cluster; see tests/pg_cluster.c)
#   test_store_pg
#
# The tests need a PostgreSQL server installed (Debian: postgresql); without
# one they fail saying so. Nothing here is built without LLMSVC_WITH_POSTGRES.
if(NOT LLMSVC_WITH_POSTGRES)
  return()
endif()

if(NOT TARGET PkgConfig::PQ)
  pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
endif()

add_library(pgharness STATIC ${CMAKE_CURRENT_SOURCE_DIR}/pgharness.c)
target_include_directories(pgharness PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(pgharness PUBLIC llmsvc_flags PkgConfig::PQ)

add_executable(pg_cluster ${CMAKE_CURRENT_SOURCE_DIR}/pg_cluster.c)
target_link_libraries(pg_cluster PRIVATE pgharness)

llmsvc_add_test(test_store_pg TIMEOUT 600)
target_link_libraries(test_store_pg PRIVATE pgharness)
target_compile_definitions(test_store_pg PRIVATE PG_CLUSTER="$<TARGET_FILE:pg_cluster>")
add_dependencies(test_store_pg pg_cluster)
set_property(TEST test_store_pg APPEND PROPERTY LABELS postgres)
