# Drop-in tests: the helper programs test_dropin runs under
# LD_PRELOAD=<build>/liballoclab.so. Included by the top-level CMakeLists.txt
# in its tests section, after the test_* executables are defined (and after
# enable_language(CXX) when a C++ compiler was found).
#
#   dropin_edge  every exported malloc-family function's edge cases
#   dropin_fork  fork while four threads allocate
#   dropin_cxx   std::string/vector/map moved between std::threads (C++ only)
#   dropin_new   operator new and delete, every form, out of memory (C++ only)
#   dropin_copy  memcpy, memmove and memset past heap blocks
#
# They call the standard malloc family and are NOT linked with alloclab: the
# allocator comes from LD_PRELOAD alone. Their paths reach test_dropin.c as
# DROPIN_EDGE, DROPIN_FORK and DROPIN_CXX; building test_dropin builds them,
# the shared library and the plugins its configs load.

add_executable(dropin_edge ${CMAKE_CURRENT_LIST_DIR}/dropin_edge.c)
target_link_libraries(dropin_edge PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
# Calls the family through volatile pointers already; no builtin folding either.
target_compile_options(dropin_edge PRIVATE -fno-builtin)

add_executable(dropin_fork ${CMAKE_CURRENT_LIST_DIR}/dropin_fork.c)
target_link_libraries(dropin_fork PRIVATE Threads::Threads ${CMAKE_DL_LIBS})

# glibc's extras (mallinfo2, malloc_trim, malloc_info, ...) answered by alloclab.
add_executable(dropin_extras ${CMAKE_CURRENT_LIST_DIR}/dropin_extras.c)
target_include_directories(dropin_extras PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/core)
target_link_libraries(dropin_extras PRIVATE ${CMAKE_DL_LIBS})

# memcpy, memmove and memset past heap blocks (hardening.check_copy); calls, not builtins.
add_executable(dropin_copy ${CMAKE_CURRENT_LIST_DIR}/dropin_copy.c)
target_compile_options(dropin_copy PRIVATE -fno-builtin)

set(ALC_DROPIN_HELPERS dropin_edge dropin_fork dropin_extras dropin_copy)
if(CMAKE_CXX_COMPILER)
  add_executable(dropin_cxx ${CMAKE_CURRENT_LIST_DIR}/dropin_cxx.cpp)
  set_target_properties(dropin_cxx PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  target_link_libraries(dropin_cxx PRIVATE Threads::Threads)
  list(APPEND ALC_DROPIN_HELPERS dropin_cxx)
  # operator new and delete, every form, and what happens out of memory.
  add_executable(dropin_new ${CMAKE_CURRENT_LIST_DIR}/dropin_new.cpp)
  set_target_properties(dropin_new PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  target_link_libraries(dropin_new PRIVATE ${CMAKE_DL_LIBS})
  list(APPEND ALC_DROPIN_HELPERS dropin_new)
endif()

# A sanitizer build instruments liballoclab.so itself. UBSan's runtime is
# an ordinary library and the preloaded allocator works; AddressSanitizer's
# and ThreadSanitizer's runtimes must come first in a process and replace
# malloc themselves, so an instrumented liballoclab.so cannot be preloaded
# into other programs (they crash before main): test_dropin is then built but
# not run by ctest (listed as "Not Run (Disabled)"), and run by hand it skips
# every test saying why. The helpers never carry a sanitizer: their malloc
# must be the preloaded one.
if(ALC_SANITIZE)
  foreach(t ${ALC_DROPIN_HELPERS})
    target_compile_options(${t} PRIVATE -fno-sanitize=all)
    target_link_options(${t} PRIVATE -fno-sanitize=all)
  endforeach()
endif()
set(ALC_DROPIN_UNPRELOADABLE "")
if(ALC_SANITIZE MATCHES "address|thread|memory")
  set(ALC_DROPIN_UNPRELOADABLE "${ALC_SANITIZE}")
endif()

if(TARGET test_dropin)
  target_compile_definitions(test_dropin PRIVATE
    DROPIN_EDGE="$<TARGET_FILE:dropin_edge>"
    DROPIN_FORK="$<TARGET_FILE:dropin_fork>"
    DROPIN_EXTRAS="$<TARGET_FILE:dropin_extras>"
    DROPIN_COPY="$<TARGET_FILE:dropin_copy>")
  if(TARGET dropin_cxx)
    target_compile_definitions(test_dropin PRIVATE DROPIN_CXX="$<TARGET_FILE:dropin_cxx>"
      DROPIN_NEW="$<TARGET_FILE:dropin_new>")
  endif()
  add_dependencies(test_dropin alloclab alloclab_checkcopy ${ALC_DROPIN_HELPERS})
  if(TARGET alloclab_plugins)
    add_dependencies(test_dropin alloclab_plugins)
  endif()
  set_tests_properties(test_dropin PROPERTIES TIMEOUT 300)
  if(ALC_DROPIN_UNPRELOADABLE)
    target_compile_definitions(test_dropin PRIVATE DROPIN_UNPRELOADABLE="${ALC_DROPIN_UNPRELOADABLE}")
    set_tests_properties(test_dropin PROPERTIES DISABLED TRUE)
  endif()
endif()

# The heap profiler's test: tests/profile_sites.c runs under LD_PRELOAD
# (profile_sites, not linked with alloclab) and linked with -lalloclab
# (profile_sites_linked). Frame pointers and no sibling calls keep each
# site function its own frame.
add_executable(profile_sites ${CMAKE_CURRENT_LIST_DIR}/profile_sites.c)
add_executable(profile_sites_linked ${CMAKE_CURRENT_LIST_DIR}/profile_sites.c)
target_link_libraries(profile_sites PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
target_link_libraries(profile_sites_linked PRIVATE alloclab Threads::Threads ${CMAKE_DL_LIBS})
foreach(t profile_sites profile_sites_linked)
  target_compile_options(${t} PRIVATE -O1 -g -fno-optimize-sibling-calls -fno-inline -fno-sanitize=all)
  target_link_options(${t} PRIVATE -fno-sanitize=all)
endforeach()
if(TARGET test_profile)
  target_compile_definitions(test_profile PRIVATE
    PROFILE_SITES="$<TARGET_FILE:profile_sites>" PROFILE_SITES_LINKED="$<TARGET_FILE:profile_sites_linked>")
  target_link_libraries(test_profile PRIVATE m)
  add_dependencies(test_profile alloclab profile_sites profile_sites_linked)
  if(ALC_DROPIN_UNPRELOADABLE)
    set_tests_properties(test_profile PROPERTIES DISABLED TRUE)
  endif()
endif()
