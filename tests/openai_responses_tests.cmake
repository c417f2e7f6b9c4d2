# Tests of the openai-responses plugin added with conversations, tools, state
# and streaming (test_openai_responses and test_transport stay in
# http_tests.cmake). Included at the end of tests/CMakeLists.txt.
#
# test_openai_stream runs the real plugin (OPENAI_PLUGIN, copied into a
# temporary folder) over loopback HTTP against the fake upstream, and feeds its
# SSE fixtures straight through the core's parser.

llmsvc_add_test(test_openai_stream TIMEOUT 180 SOURCES prototest.c)
target_link_libraries(test_openai_stream PRIVATE fake_upstream_lib)
target_compile_definitions(test_openai_stream PRIVATE OPENAI_PLUGIN="$<TARGET_FILE:openai-responses>")
add_dependencies(test_openai_stream openai-responses)
set_property(TEST test_openai_stream APPEND PROPERTY LABELS http)
