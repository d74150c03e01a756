# tests/support/run_checked.cmake — run(COMMAND ARGS...) for the script-mode tests: runs it, fails
# the test with the command, its exit code and its output when it exits non-zero; prints its
# output otherwise and leaves its stdout in `out` for the caller to check.
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        string(REPLACE ";" " " cmd "${ARGN}")
        message(FATAL_ERROR "'${cmd}' failed (exit ${rc}):\n${out}\n${err}")
    endif()
    message(STATUS "${out}${err}")
    set(out "${out}" PARENT_SCOPE)
endfunction()
