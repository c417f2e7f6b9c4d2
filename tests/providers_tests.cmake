# The same request to every live model of every shipped spec, over loopback
# HTTP to the in-process fake upstream with every real plugin (issue "More
# wire protocols as plugins", item 7). Included from tests/CMakeLists.txt.
set(_plugins openai-responses openai-chat anthropic gemini)
set(_have_all ON)
foreach(_p ${_plugins})
  if(NOT TARGET ${_p})
    set(_have_all OFF)
  endif()
endforeach()
if(_have_all)
  llmsvc_add_test(test_every_provider TIMEOUT 300)
  target_link_libraries(test_every_provider PRIVATE fake_upstream_lib)
  target_compile_definitions(test_every_provider PRIVATE
    OPENAI_PLUGIN="$<TARGET_FILE:openai-responses>"
    OPENAI_CHAT_PLUGIN="$<TARGET_FILE:openai-chat>"
    ANTHROPIC_PLUGIN="$<TARGET_FILE:anthropic>"
    GEMINI_PLUGIN="$<TARGET_FILE:gemini>")
  add_dependencies(test_every_provider ${_plugins})
  set_property(TEST test_every_provider APPEND PROPERTY LABELS http)
endif()
