# The anthropic-messages plugin (plugins/anthropic), over real loopback HTTP
# against the in-process fake upstream, with the shipped specs/anthropic.yaml.
# Included from tests/CMakeLists.txt.
#
# The test copies the real plugin (ANTHROPIC_PLUGIN) into a temporary folder;
# it also loads it directly (the core's loader) to feed SSE fixtures through
# the core's parser a byte at a time.

if(TARGET anthropic)
  llmsvc_add_test(test_anthropic TIMEOUT 180 SOURCES prototest.c)
  target_link_libraries(test_anthropic PRIVATE fake_upstream_lib)
  target_compile_definitions(test_anthropic PRIVATE ANTHROPIC_PLUGIN="$<TARGET_FILE:anthropic>")
  add_dependencies(test_anthropic anthropic)
  # nothing of the developer's Anthropic setup leaks into the test
  set_property(TEST test_anthropic APPEND PROPERTY ENVIRONMENT_MODIFICATION
               "ANTHROPIC_API_KEY=unset:" "ANTHROPIC_BASE_URL=unset:")
  set_property(TEST test_anthropic APPEND PROPERTY LABELS http)
endif()
