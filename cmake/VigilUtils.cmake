# Per-target build settings: warnings, hardening and sanitizers (no global flag strings).

function(vigil_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror
                         -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
                         -Wimplicit-fallthrough)
  # GCC spells it -Wshadow=local; clang (fuzz builds) has no such option.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # -Wrestrict gives false positives on std::string assignment at -O3 in GCC 12
    # (GCC bug 105329), so it stays a warning there, never an error.
    target_compile_options(${target} PRIVATE -Wshadow=local -Wno-error=restrict)
  endif()
endfunction()

function(vigil_hardening target)
  target_compile_options(${target} PRIVATE -fstack-protector-strong)
  if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
    target_compile_definitions(${target} PRIVATE _FORTIFY_SOURCE=2)
  endif()
  target_link_options(${target} PRIVATE -Wl,-z,relro,-z,now -pie)
endfunction()

function(vigil_sanitizers target)
  set(flags "")
  if(VIGIL_ASAN)
    list(APPEND flags -fsanitize=address -fno-omit-frame-pointer)
  endif()
  if(VIGIL_UBSAN)
    list(APPEND flags -fsanitize=undefined -fno-sanitize-recover=undefined)
  endif()
  if(VIGIL_TSAN)
    list(APPEND flags -fsanitize=thread)
  endif()
  if(flags)
    target_compile_options(${target} PRIVATE ${flags})
    target_link_options(${target} PUBLIC ${flags})
    # GCC 12's -Wmaybe-uninitialized misfires on sanitizer-instrumented code at -O1 (a
    # std::optional of a struct holding vectors, moved out of a lambda): a warning there, not an
    # error. Release builds keep it an error.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-error=maybe-uninitialized)
    endif()
  endif()
endfunction()

# Everything a Vigil target gets: warnings, hardening, sanitizers.
function(vigil_target target)
  vigil_warnings(${target})
  vigil_hardening(${target})
  vigil_sanitizers(${target})
endfunction()
