# Per-ISA translation units: a source named *_sse2.cpp, *_avx2.cpp or *_avx512.cpp is compiled with that
# ISA's flags (xsimd 8.1 needs them on the whole unit) and runs only after the runtime dispatcher (or a
# test) has checked the CPU.
#
# pg_isa_sources(<out-var> <sources>...) returns the sources in link order, baseline units first, then
# the ISA units narrowest first (sse2, avx2, avx512), and sets the ISA units' compile flags. The order
# matters for correctness: an ISA unit also instantiates ordinary inline and template code
# (std::vector<float>::assign, xsimd's scalar helpers, gtest's comparison helpers) with its wide flags,
# and the linker keeps ONE copy of each such function for the whole binary, the first it meets. With
# this order every shared copy is one the least capable CPU can run. tests/kernels/isa_leak_check.py
# proves it on the linked binaries (ctest kernels.no_wide_code_outside_isa_units).
set(PG_ISA_FLAGS_avx2 "-mavx2;-mfma")
set(PG_ISA_FLAGS_avx512 "-mavx512f;-mavx512cd;-mavx512bw;-mavx512dq;-mavx512vl;-mavx2;-mfma")

function(pg_isa_sources out)
  set(ordered "")
  foreach(isa baseline sse2 avx2 avx512)
    foreach(src IN LISTS ARGN)
      string(REGEX MATCH "_(sse2|avx2|avx512)\\.cpp$" suffix "${src}")
      if((isa STREQUAL "baseline" AND NOT suffix) OR suffix STREQUAL "_${isa}.cpp")
        list(APPEND ordered ${src})
        if(DEFINED PG_ISA_FLAGS_${isa})
          # GCC's -Wmaybe-uninitialized misfires on xsimd 8.1's AVX-512 register unions.
          set(flags ${PG_ISA_FLAGS_${isa}})
          if(isa STREQUAL "avx512")
            list(APPEND flags -Wno-uninitialized -Wno-maybe-uninitialized)
          endif()
          set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${flags}")
        endif()
      endif()
    endforeach()
  endforeach()
  set(${out} ${ordered} PARENT_SCOPE)
endfunction()
