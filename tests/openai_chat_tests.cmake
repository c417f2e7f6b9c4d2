# The openai-chat plugin (plugins/openai-chat): OpenAI Chat Completions and the
# compatible servers, over real loopback HTTP against the in-process fake
# upstream, with the shipped specs/ollama.yaml, vllm.yaml, llamacpp.yaml and
# azure-openai.yaml. Included from tests/CMakeLists.txt.
#
# The test copies the real plugin (OPENAI_CHAT_PLUGIN) into a temporary folder;
# it also loads it directly (the core's loader) to feed SSE fixtures through the
# core's parser a byte at a time.

if(TARGET openai-chat)
  llmsvc_add_test(test_openai_chat TIMEOUT 180 SOURCES prototest.c)
  target_link_libraries(test_openai_chat PRIVATE fake_upstream_lib)
  target_compile_definitions(test_openai_chat PRIVATE
    OPENAI_CHAT_PLUGIN="$<TARGET_FILE:openai-chat>")
  add_dependencies(test_openai_chat openai-chat)
  # nothing of the developer's setup of these providers leaks into the test
  set_property(TEST test_openai_chat APPEND PROPERTY ENVIRONMENT_MODIFICATION
               "AZURE_OPENAI_API_KEY=unset:" "AZURE_OPENAI_ENDPOINT=unset:"
               "VLLM_API_KEY=unset:" "VLLM_BASE_URL=unset:" "OLLAMA_BASE_URL=unset:"
               "LLAMACPP_BASE_URL=unset:")
  set_property(TEST test_openai_chat APPEND PROPERTY LABELS http)
endif()
