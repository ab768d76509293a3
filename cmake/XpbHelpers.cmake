# Warnings for every target of ours (never for dependencies): xpb_warnings(target).
function(xpb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion $<$<BOOL:${XPB_WERROR}>:-Werror>)
  if(XPB_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()

# xpb_object_library(name SOURCES...): an OBJECT library that is folded into libxpubench and
# sees the harness headers. Used by every driver and workload folder, so they look alike.
function(xpb_object_library name)
  add_library(${name} OBJECT ${ARGN})
  target_link_libraries(${name} PUBLIC xpb_harness_headers)
  xpb_warnings(${name})
endfunction()
