# typenet <-> PyTorch through safetensors, both ways, for MODEL: torch trains and saves, typenet
# loads and matches its logits; typenet trains and saves, torch loads (strict) and matches.
# Skipped (the message ctest looks for) where Debian's python3-torch is not installed.
execute_process(COMMAND /usr/bin/python3 -c "import torch" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 0)
    message("torch-interop: SKIPPED: /usr/bin/python3 cannot import torch (./scripts/deps.sh --compare installs it)")
    return()
endif()
file(MAKE_DIRECTORY ${WORK})
include(${CMAKE_CURRENT_LIST_DIR}/../support/run_checked.cmake)
run(/usr/bin/python3 ${SCRIPT} export --model ${MODEL} --out ${WORK})
run(${TOOL} check ${MODEL} ${WORK}/${MODEL}_torch.safetensors ${WORK}/${MODEL}_torch_check.safetensors)
run(${TOOL} export ${MODEL} ${WORK})
run(/usr/bin/python3 ${SCRIPT} check --model ${MODEL} --weights ${WORK}/${MODEL}_typenet.safetensors
    --check ${WORK}/${MODEL}_typenet_check.safetensors)
