// io_implementation.hpp — include in exactly one .cpp of a program built with TYPENET_SEPARATE_IO:
// it compiles the model-independent file code of typenet/io.hpp once (the safetensors JSON, and
// save/load, checkpoints and export for float and double), which the other translation units then
// only declare (docs/files.md: about 8 s less per translation unit that uses io).
#pragma once
#define TYPENET_IO_IMPLEMENTATION
#include "typenet/io.hpp"

namespace typenet::io::detail {
#define TYPENET_IO_INSTANTIATE(T)                                                                               \
    template void add_tensors<T>(safetensors_writer&, const model_view<const T>&, const save_options&,          \
                                 std::vector<std::int64_t>&, const std::string&);                               \
    template staged_tensors<T> stage_tensors<T>(const model_view<T>&, const safetensors_reader&,                \
                                                const load_options&, const std::string&);                       \
    template void save_view<T>(const model_view<const T>&, const std::filesystem::path&, const save_options&);  \
    template void load_view<T>(const model_view<T>&, const safetensors_reader&, const load_options&);           \
    template void save_checkpoint_views<T>(const std::filesystem::path&, const fit_state&,                      \
                                           const std::vector<part_view<T>>&);                                   \
    template fit_state load_checkpoint_views<T>(const std::filesystem::path&, std::vector<part_view<T>>&);      \
    template void export_view<T>(const model_view<const T>&, const std::filesystem::path&, const std::string&,  \
                                 const std::string&, const std::string&);
TYPENET_IO_INSTANTIATE(float)
TYPENET_IO_INSTANTIATE(double)
#undef TYPENET_IO_INSTANTIATE
}  // namespace typenet::io::detail
