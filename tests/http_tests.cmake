# HTTP-level tests: the openai-responses plugin and the libcurl transport,
# over real loopback HTTP against the in-process fake upstream
# (tests/fake_upstream). Included at the end of tests/CMakeLists.txt.
#
# Each test copies the real plugin (OPENAI_PLUGIN) into a temporary folder and
# reads the shipped specs/openai.yaml, so what runs is what ships.

foreach(_t test_openai_responses test_transport)
  llmsvc_add_test(${_t} TIMEOUT 180 SOURCES prototest.c)
  target_link_libraries(${_t} PRIVATE fake_upstream_lib)
  target_compile_definitions(${_t} PRIVATE OPENAI_PLUGIN="$<TARGET_FILE:openai-responses>")
  add_dependencies(${_t} openai-responses)
  set_property(TEST ${_t} APPEND PROPERTY LABELS http)
endforeach()
