# Compiles one snippet with -fsyntax-only.
#   SHOULD_FAIL=ON: passes only if compilation fails, the output matches EXPECT, and g++ printed
#   exactly one 'error:' line (a mis-wired model is one diagnostic, not a wall).
#   SHOULD_FAIL=OFF: passes only if it compiles (the twin that proves the harness can pass).
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
execute_process(COMMAND ${CXX} ${flags} -fsyntax-only ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(SHOULD_FAIL)
    if(rc EQUAL 0)
        message(FATAL_ERROR "${SOURCE} compiled, but it must fail with: ${EXPECT}")
    endif()
    if(NOT all MATCHES "${EXPECT}")
        message(FATAL_ERROR "${SOURCE} failed, but without the expected message '${EXPECT}':\n${all}")
    endif()
    string(REGEX MATCHALL "error:" errors "${all}")
    list(LENGTH errors n)
    if(NOT n EQUAL 1)
        message(FATAL_ERROR "${SOURCE}: expected exactly one 'error:' line, found ${n}:\n${all}")
    endif()
else()
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "${SOURCE} must compile:\n${all}")
    endif()
endif()
