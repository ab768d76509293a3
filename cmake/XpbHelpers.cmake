# Warnings for every target of ours (never for dependencies): xpb_warnings(target).
function(xpb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion $<$<BOOL:${XPB_WERROR}>:-Werror>
    # Aggregates such as TensorDesc give their later members defaults on purpose; leaving them
    # out of a brace initializer is the intended use, not a mistake.
    -Wno-missing-field-initializers)
  # GCC 12 reports std::string concatenation at -O3 as overlapping memcpy (GCC bug 105329).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(XPB_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()

# xpb_public_headers(name dir): an INTERFACE target for the public headers of one module,
# found in <dir>/xpubench/*.hpp and installed into include/xpubench.
function(xpb_public_headers name dir)
  add_library(${name} INTERFACE)
  target_include_directories(${name} INTERFACE
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/${dir}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  if(XPB_INSTALL)
    install(TARGETS ${name} EXPORT xpubenchTargets)
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/xpubench DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
  set_property(GLOBAL APPEND PROPERTY XPB_PUBLIC_HEADER_TARGETS ${name})
endfunction()

# xpb_module(name SOURCES...): an OBJECT library folded into libxpubench. Symbols are hidden
# unless a public header marks them XPB_API (export.hpp). The module sees only the headers it
# links (its own folder is added by the caller), so the layering cannot be crossed by accident.
function(xpb_module name)
  add_library(${name} OBJECT ${ARGN})
  set_target_properties(${name} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  xpb_warnings(${name})
  set_property(GLOBAL APPEND PROPERTY XPB_MODULES ${name})
endfunction()
