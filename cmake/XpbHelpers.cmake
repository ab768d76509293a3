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

# xpb_object_library(name SOURCES...): an OBJECT library that is folded into libxpubench and
# sees the harness headers. Used by every driver and workload folder, so they look alike.
function(xpb_object_library name)
  add_library(${name} OBJECT ${ARGN})
  target_link_libraries(${name} PUBLIC xpb_harness_headers)
  # Private headers are named from the project root ("suites/workload_common.hpp").
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  xpb_warnings(${name})
endfunction()
