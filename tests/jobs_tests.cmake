# Jobs, workers and call records on SQLite. Included at the end of
# tests/CMakeLists.txt.
#
#   test_jobs      the job API, in-process workers (mock plugin), job-level
#                  retries over loopback HTTP (openai-responses plugin and the
#                  in-process fake upstream), call records, the store's schema
#   test_jobs_cli  `llmsvc job|worker|records` end to end with real worker
#                  processes, and the crash test: workers killed (SIGKILL) or
#                  stopped (SIGTERM) while jobs to the openai provider, served
#                  by a standalone fake_upstream process, are in flight

llmsvc_add_test(test_jobs TIMEOUT 300)
target_link_libraries(test_jobs PRIVATE fake_upstream_lib)
target_compile_definitions(test_jobs PRIVATE OPENAI_PLUGIN="$<TARGET_FILE:openai-responses>")
add_dependencies(test_jobs openai-responses)
set_property(TEST test_jobs APPEND PROPERTY LABELS jobs)

llmsvc_add_test(test_jobs_cli TIMEOUT 300)
target_compile_definitions(test_jobs_cli PRIVATE FAKE_UPSTREAM_BIN="$<TARGET_FILE:fake_upstream>")
add_dependencies(test_jobs_cli fake_upstream openai-responses)
set_property(TEST test_jobs_cli APPEND PROPERTY LABELS jobs)
