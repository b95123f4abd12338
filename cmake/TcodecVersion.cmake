# Reads the library version from the public header, so it is written once
# (as zstd's build/cmake/CMakeModules/GetZstdLibraryVersion.cmake does).
#
#   tcodec_read_version(<header> <out-prefix>)
#
# sets <out-prefix>_MAJOR, <out-prefix>_MINOR, <out-prefix>_PATCH and
# <out-prefix>_STRING in the caller's scope, or stops with a fatal error.
function(tcodec_read_version header prefix)
  file(STRINGS "${header}" lines REGEX "^#define[ \t]+TCODEC_VERSION_(MAJOR|MINOR|PATCH)[ \t]+")
  foreach(part MAJOR MINOR PATCH)
    set(value "")
    foreach(line IN LISTS lines)
      if(line MATCHES "^#define[ \t]+TCODEC_VERSION_${part}[ \t]+([0-9]+)")
        set(value "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    if(value STREQUAL "")
      message(FATAL_ERROR "TCODEC_VERSION_${part} not found in ${header}")
    endif()
    set(${prefix}_${part} "${value}" PARENT_SCOPE)
    set(v_${part} "${value}")
  endforeach()
  set(${prefix}_STRING "${v_MAJOR}.${v_MINOR}.${v_PATCH}" PARENT_SCOPE)
endfunction()
