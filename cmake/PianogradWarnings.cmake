# Warnings on and clean for our own targets (not for third-party headers, included as SYSTEM).
add_library(pianograd_warnings INTERFACE)
target_compile_options(pianograd_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wno-unused-parameter>)
