# The GAN's exact resume across processes: 2 epochs straight, against 1 epoch with --save and a new
# process that resumes for the second; the second epoch's sample grids must be the same bytes.
file(MAKE_DIRECTORY ${WORK}/straight ${WORK}/resumed)
set(common --limit 1000 --threads 2)
foreach(args "--epochs;2;--samples;${WORK}/straight"
             "--epochs;1;--samples;${WORK}/resumed;--save;${WORK}/gan.ckpt"
             "--epochs;2;--samples;${WORK}/resumed;--resume;${WORK}/gan.ckpt")
    execute_process(COMMAND ${EXE} ${common} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "'${EXE} ${args}' failed (exit ${rc}):\n${out}\n${err}")
    endif()
endforeach()
if(NOT out MATCHES "resumed from .*gan.ckpt: epoch 2")
    message(FATAL_ERROR "the resumed run did not start at epoch 2:\n${out}")
endif()
file(SHA256 ${WORK}/straight/gan_epoch_2.png a)
file(SHA256 ${WORK}/resumed/gan_epoch_2.png b)
if(NOT a STREQUAL b)
    message(FATAL_ERROR "epoch 2's samples differ between the straight and the resumed run")
endif()
message(STATUS "straight and resumed samples identical: ${a}")
