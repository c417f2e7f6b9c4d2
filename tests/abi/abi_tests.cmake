# ABI discipline: the exported symbols list, strict public headers, and the
# examples compiled against the public headers only.
add_test(NAME abi_symbols
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/abi/check_symbols.sh $<TARGET_FILE:llmsvc>
                 ${PROJECT_SOURCE_DIR}/packaging/libllmsvc.symbols
                 $<TARGET_FILE:mock> $<TARGET_FILE:openai-responses>)
add_test(NAME abi_headers_c
         COMMAND ${CMAKE_C_COMPILER} -std=c11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only
                 -I${PROJECT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR}/abi/headers.c)
find_program(LLMSVC_CXX NAMES c++ g++ clang++)
if(LLMSVC_CXX)
  add_test(NAME abi_headers_cxx
           COMMAND ${LLMSVC_CXX} -x c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror
                   -fsyntax-only -I${PROJECT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR}/abi/headers.c)
endif()
add_test(NAME abi_example_host
         COMMAND ${CMAKE_C_COMPILER} -std=c11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only
                 -I${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/examples/host/host.c)
add_test(NAME abi_example_plugin
         COMMAND ${CMAKE_C_COMPILER} -std=c11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only
                 -I${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/examples/plugin/shout.c)
set_tests_properties(abi_symbols abi_headers_c abi_example_host abi_example_plugin PROPERTIES LABELS abi)
add_test(NAME dropin_plugin
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_dropin.sh $<TARGET_FILE:llmsvc_cli>
                 ${PROJECT_SOURCE_DIR} ${CMAKE_C_COMPILER})
set_tests_properties(dropin_plugin PROPERTIES LABELS abi
  ENVIRONMENT_MODIFICATION "LLMSVC_PLUGIN_PATH=unset:;LLMSVC_SPEC_PATH=unset:")
