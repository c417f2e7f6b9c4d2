# `llmsvc batch` end to end (tests/test_batch.c): the real executable with the
# mock provider, SQLite job stores in temporary folders, stderr in a file or on
# a pseudo-terminal. Included at the end of tests/CMakeLists.txt.
llmsvc_add_test(test_batch TIMEOUT 300)
