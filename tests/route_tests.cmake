# Routing, rate limits, the response cache and budgets (issue "Routing and
# resilience"), over loopback HTTP against the in-process fake upstream, with
# the real openai-responses and mock plugins. Included by tests/CMakeLists.txt.
foreach(_t test_routing test_limits test_cache test_budget)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_t}.c)
    llmsvc_add_test(${_t} TIMEOUT 300 SOURCES routeutil.c prototest.c)
    target_link_libraries(${_t} PRIVATE fake_upstream_lib)
    target_compile_definitions(${_t} PRIVATE OPENAI_PLUGIN="$<TARGET_FILE:openai-responses>")
    add_dependencies(${_t} openai-responses)
    set_property(TEST ${_t} APPEND PROPERTY LABELS http)
  endif()
endforeach()
