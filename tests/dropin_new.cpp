// C++'s operator new and delete under LD_PRELOAD=liballoclab.so: every form
// is alloclab's own (looked up by address), blocks come back aligned as asked
// and go back through every delete, and running out of memory does what C++
// says: the new-handler is called until it gives up, then std::bad_alloc is
// thrown (or nullptr returned by the nothrow forms). Prints one line per
// check, "ok" or "FAIL ..."; exit status 1 if any failed. With an argument,
// one C++ delete misuse instead (hardening.cxx_delete). test_dropin.c runs it.
#include <dlfcn.h>
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

namespace {

int failures = 0;

void check(bool ok, const char *what) {
    std::printf("%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failures++;
}

// The file that defines the function at address f.
const char *defined_in(void *f) {
    Dl_info info;
    if (!dladdr(f, &info) || !info.dli_fname)
        return "";
    return info.dli_fname;
}

bool from_alloclab(void *f) { return std::strstr(defined_in(f), "liballoclab") != nullptr; }

void check_symbols() {
    using new_t = void *(*)(std::size_t);
    using new_nt_t = void *(*)(std::size_t, const std::nothrow_t &);
    using new_al_t = void *(*)(std::size_t, std::align_val_t);
    using del_t = void (*)(void *) noexcept;
    using del_sized_t = void (*)(void *, std::size_t) noexcept;
    using del_al_t = void (*)(void *, std::align_val_t) noexcept;
    check(from_alloclab(reinterpret_cast<void *>(static_cast<new_t>(&::operator new))), "operator new is alloclab's");
    check(from_alloclab(reinterpret_cast<void *>(static_cast<new_t>(&::operator new[]))), "operator new[] is alloclab's");
    check(from_alloclab(reinterpret_cast<void *>(static_cast<new_nt_t>(&::operator new))), "nothrow new is alloclab's");
    check(from_alloclab(reinterpret_cast<void *>(static_cast<new_al_t>(&::operator new))), "aligned new is alloclab's");
    check(from_alloclab(reinterpret_cast<void *>(static_cast<del_t>(&::operator delete))), "operator delete is alloclab's");
    check(from_alloclab(reinterpret_cast<void *>(static_cast<del_sized_t>(&::operator delete))), "sized delete is alloclab's");
    check(from_alloclab(reinterpret_cast<void *>(static_cast<del_al_t>(&::operator delete[]))), "aligned delete[] is alloclab's");
}

bool aligned_to(const void *p, std::size_t a) { return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0; }

void check_forms() {
    char *p = static_cast<char *>(::operator new(100));
    std::memset(p, 1, 100);
    check(malloc_usable_size(p) >= 100, "new(100) holds 100 bytes");
    ::operator delete(p, 100);   // sized
    char *q = static_cast<char *>(::operator new(100));
    check(q == p, "a block deleted by sized delete is the next new of its class");
    // A size of another class (a program's bug) still sends the block back
    // to its own class, never to the class the size names (whose list is
    // first given blocks, so that it has room to take one more).
    void *warm[4];
    for (void *&w : warm)
        w = ::operator new(24);
    for (void *w : warm)
        ::operator delete(w, 24);
    for (void *&w : warm)
        w = ::operator new(600);
    for (void *w : warm)
        ::operator delete(w, 600);
    ::operator delete(q, 24);
    char *r = static_cast<char *>(::operator new(24));
    char *s = static_cast<char *>(::operator new(100));
    check(r != q && s == q, "a sized delete of a smaller size: the block goes back to its own class");
    ::operator delete(s, 600);
    char *t = static_cast<char *>(::operator new(600));
    char *u = static_cast<char *>(::operator new(100));
    check(t != s && u == s, "a sized delete of a larger size: the block goes back to its own class");
    ::operator delete(r);
    ::operator delete(t);
    ::operator delete(u);
    char *a = new char[3000];
    a[2999] = 7;
    delete[] a;
    char *z = static_cast<char *>(::operator new(0));
    char *z2 = static_cast<char *>(::operator new[](0));
    check(z && z2 && z != z2, "new(0) gives distinct blocks");
    ::operator delete(z);
    ::operator delete[](z2);
    void *n = ::operator new(64, std::nothrow);
    check(n != nullptr, "nothrow new(64)");
    ::operator delete(n, std::nothrow);
    bool all_aligned = true;
    for (std::size_t al = 32; al <= (std::size_t{1} << 21); al <<= 1) {
        void *x = ::operator new(al / 2 + 1, std::align_val_t(al));
        void *y = ::operator new[](3 * al, std::align_val_t(al), std::nothrow);
        all_aligned = all_aligned && x && y && aligned_to(x, al) && aligned_to(y, al);
        ::operator delete(x, al / 2 + 1, std::align_val_t(al));
        ::operator delete[](y, std::align_val_t(al), std::nothrow);
    }
    check(all_aligned, "aligned new: 32 B .. 2 MiB alignments kept");
}

int handler_calls = 0;

void give_up_after_three() {
    if (++handler_calls == 3)
        std::set_new_handler(nullptr);
}

void check_failure() {
    const std::size_t huge = std::size_t{1} << 62;
    bool thrown = false;
    try {
        void *p = ::operator new(huge);
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    check(thrown, "new(2^62) throws std::bad_alloc");
    check(::operator new[](huge, std::nothrow) == nullptr, "nothrow new[](2^62) is nullptr");
    thrown = false;
    try {
        void *p = ::operator new(huge, std::align_val_t(4096));
        ::operator delete(p, std::align_val_t(4096));
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    check(thrown, "aligned new(2^62) throws std::bad_alloc");
    std::set_new_handler(give_up_after_three);
    thrown = false;
    try {
        void *p = ::operator new[](huge);
        ::operator delete[](p);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    check(thrown && handler_calls == 3, "the new-handler runs until it gives up, then std::bad_alloc");
}

}  // namespace

// Misuses for hardening.cxx_delete (argv[1] names one): each prints
// "passed" if the allocator let it through.
struct Nine {
    std::size_t v[9];
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
int misuse(const char *what) {
    if (!std::strcmp(what, "delete-of-new-array")) {
        char *a = new char[4096];
        delete a;   // the misuse under test
    } else if (!std::strcmp(what, "delete-array-of-new")) {
        char *a = new char;
        delete[] a;
    } else if (!std::strcmp(what, "sized-delete-wrong-size")) {
        void *p = new char;
        __asm__ volatile("" : "+r"(p));   // no elision of the pair: the block is seen to escape
        delete static_cast<Nine *>(p);     // a 72-byte sized delete of a 1-byte block
    } else {
        std::printf("unknown misuse %s\n", what);
        return 2;
    }
    std::printf("passed\n");
    return 0;
}
#pragma GCC diagnostic pop

int main(int argc, char **argv) {
    if (argc > 1)
        return misuse(argv[1]);
    check_symbols();
    check_forms();
    check_failure();
    return failures ? 1 : 0;
}
