# The benchmark driver's test: test_bench runs bench/alloclab-bench on this
# build, which preloads liballoclab.so into the workload programs of bench/.
# Included by the top-level CMakeLists.txt in its tests section. Building
# test_bench builds the library, the plugins, the size-class tool and every
# workload. Like test_dropin it cannot run where the library cannot be
# preloaded (ASan/TSan builds), or without the workloads (ALC_BUILD_BENCH off),
# ctest lists it as disabled.
if(TARGET test_bench)
  set(ALC_BENCH_DEPS alloclab alloclab-table)
  foreach(t alloclab_plugins wl_churn wl_json wl_prodcons wl_larson wl_frag wl_large wl_mtchurn wl_manythreads bench_replay)
    if(TARGET ${t})
      list(APPEND ALC_BENCH_DEPS ${t})
    endif()
  endforeach()
  add_dependencies(test_bench ${ALC_BENCH_DEPS})
  set_tests_properties(test_bench PROPERTIES TIMEOUT 600)
  if(ALC_SANITIZE MATCHES "address|thread|memory" OR NOT TARGET wl_churn)
    set_tests_properties(test_bench PROPERTIES DISABLED TRUE)
  endif()
endif()

# Each workload at a small scale as a test of its own (its own checks of
# contents and counts, under whatever malloc the build links: glibc, or a
# sanitizer's); the multi-threaded ones also run under TSan (tests/run.sh).
foreach(w churn json prodcons larson frag large mtchurn manythreads)
  if(TARGET wl_${w})
    add_test(NAME workload_${w} COMMAND wl_${w} --scale 0.02)
  endif()
endforeach()
