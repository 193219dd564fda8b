# Test plugins: the deliberately broken (and one good) policy plugins that
# tests/test_loader.c loads. Included by the top-level CMakeLists.txt in its
# tests section (after the test_* executables are defined).
#
# Each tests/plugins/<name>.c becomes <build>/test-plugins/<name>.so, a MODULE
# built like a real plugin: only alloclab_policy.h, libconfig, hidden
# visibility (a plugin exports what ALC_POLICY_EXPORT marks). Every test_*
# executable depends on all of them, so building one test builds them.
file(GLOB ALC_TEST_PLUGIN_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/plugins/*.c)
set(ALC_TEST_PLUGIN_TARGETS "")
foreach(src ${ALC_TEST_PLUGIN_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  set(target alc_test_plugin_${name})
  add_library(${target} MODULE ${src})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${name}
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test-plugins
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/policies)
  target_link_libraries(${target} PRIVATE PkgConfig::LIBCONFIG)
  list(APPEND ALC_TEST_PLUGIN_TARGETS ${target})
endforeach()

file(GLOB ALC_TEST_SOURCES_FOR_PLUGINS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.c)
# The shipped plugins too (plugins/CMakeLists.txt's alloclab_plugins), for
# test_plugins and test_loader, which load them from <build>/plugins.
if(TARGET alloclab_plugins)
  list(APPEND ALC_TEST_PLUGIN_TARGETS alloclab_plugins)
endif()
foreach(src ${ALC_TEST_SOURCES_FOR_PLUGINS})
  get_filename_component(name ${src} NAME_WE)
  if(TARGET ${name} AND ALC_TEST_PLUGIN_TARGETS)
    add_dependencies(${name} ${ALC_TEST_PLUGIN_TARGETS})
  endif()
endforeach()
