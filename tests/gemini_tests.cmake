# The gemini plugin (plugins/gemini) over loopback HTTP against the in-process
# fake upstream; included at the end of tests/CMakeLists.txt. The test copies
# the real plugin (GEMINI_PLUGIN) into a temporary folder and reads the shipped
# specs/google.yaml, so what runs is what ships.

if(TARGET gemini)
  llmsvc_add_test(test_gemini TIMEOUT 180 SOURCES prototest.c)
  target_link_libraries(test_gemini PRIVATE fake_upstream_lib)
  target_compile_definitions(test_gemini PRIVATE GEMINI_PLUGIN="$<TARGET_FILE:gemini>")
  add_dependencies(test_gemini gemini)
  set_property(TEST test_gemini APPEND PROPERTY LABELS http)
  # the developer's Gemini variables never reach the test
  set_property(TEST test_gemini APPEND PROPERTY ENVIRONMENT_MODIFICATION
               "GEMINI_API_KEY=unset:" "GOOGLE_API_KEY=unset:" "GEMINI_BASE_URL=unset:")
  if(LLMSVC_TEST_VALGRIND)
    set_property(TEST test_gemini_valgrind APPEND PROPERTY ENVIRONMENT_MODIFICATION
                 "GEMINI_API_KEY=unset:" "GOOGLE_API_KEY=unset:" "GEMINI_BASE_URL=unset:")
  endif()
endif()
