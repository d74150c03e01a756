// io.hpp — models as files and as code: safetensors save/load with PyTorch's names
// (io/model.hpp), checkpoints that resume exactly (train/checkpoint.hpp), export to a C++ header
// (io/export.hpp). Apart from typenet.hpp because it brings nlohmann/json (about 1.4 s of compile
// time per translation unit here) that a model's own code does not need.
#pragma once

#include "typenet/io/export.hpp"
#include "typenet/io/model.hpp"
#include "typenet/io/safetensors.hpp"
#include "typenet/train/checkpoint.hpp"
#include "typenet/typenet.hpp"
