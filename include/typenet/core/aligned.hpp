// core/aligned.hpp — 64-byte aligned std::vector storage: parameter buffers and workspaces.
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace typenet {

template <class T, std::size_t Align = 64>
struct aligned_allocator {
    using value_type = T;
    template <class U> struct rebind { using other = aligned_allocator<U, Align>; };
    aligned_allocator() = default;
    template <class U> aligned_allocator(const aligned_allocator<U, Align>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{Align})); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{Align}); }
    template <class U> bool operator==(const aligned_allocator<U, Align>&) const noexcept { return true; }
};

template <class T> using aligned_vector = std::vector<T, aligned_allocator<T>>;

}  // namespace typenet
