// src/typenet_io.cpp — the one translation unit that compiles typenet's file code (typenet/io.hpp:
// the safetensors JSON, save/load, checkpoints, export) for typenet's own examples and tests, which
// are built with TYPENET_SEPARATE_IO. A user's project does the same (docs/files.md).
#include <typenet/io_implementation.hpp>
