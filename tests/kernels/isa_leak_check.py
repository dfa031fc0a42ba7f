#!/usr/bin/env python3
"""Checks that no wide-ISA code leaks out of the per-ISA translation units of a linked binary.

An ISA unit (kernels/cpu/*_avx2.cpp, *_avx512.cpp, tests' *_avx512.cpp ...) is compiled with -mavx2 or
-mavx512f, and it also instantiates ordinary inline and template code (std::vector<float>::assign,
xsimd's scalar helpers) with those flags. The linker keeps one copy of each such function for the whole
binary, the first it meets: if that is the AVX-512 unit's copy, every caller runs AVX-512 code, and an
AVX2-only machine dies of SIGILL far from any kernel. kernels/CMakeLists.txt orders the units so the
baseline copies win; this check proves it on the linked result, so it holds on every host whatever
the build host's CPU.

Rule, per function of the disassembly: AVX-512 code (zmm registers, opmask registers, xmm/ymm16-31) only
in functions whose name names avx512; AVX code (any VEX/EVEX "v" instruction on vector registers) only in
functions that name an ISA (avx2, avx512, fma3), or in Eigen::internal (Eigen's GEMM is compiled with AVX2
only in gemm_eigen_avx2.cpp and reached only behind the AVX2 check; a baseline unit instantiating the same
code would come first in the link and win). Static initialisers (_GLOBAL__sub_I_*) run at load time on
every CPU, so they may hold no wide code at all, whatever unit they come from.

    isa_leak_check.py BINARY [BINARY ...]      exit 1 and list the functions on a leak
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

FUNC = re.compile(r"^[0-9a-f]+ <(.*)>:$")
INSN = re.compile(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$")
AVX512_OPERAND = re.compile(r"%zmm|%k[0-7]\b|\{%k[1-7]\}|%[xy]mm(1[6-9]|2[0-9]|3[01])\b")
VECTOR_OPERAND = re.compile(r"%[xyz]mm")
AVX512_NAMES = re.compile(r"avx512")
AVX_NAMES = re.compile(r"avx2|avx512|fma3|^Eigen::internal::|[^:]Eigen::internal::")


def wide_functions(binary: str) -> dict[str, str]:
    """Function name -> the widest ISA level its code needs ('avx' or 'avx512')."""
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", binary], check=True,
                         capture_output=True, text=True).stdout
    level: dict[str, str] = {}
    func = None
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            func = m.group(1)
            continue
        m = INSN.match(line)
        if not m or func is None:
            continue
        mnemonic, operands = m.group(1), m.group(2)
        if AVX512_OPERAND.search(operands) or (mnemonic.startswith("k") and "%k" in operands):
            level[func] = "avx512"
        elif mnemonic.startswith("v") and VECTOR_OPERAND.search(operands) and level.get(func) != "avx512":
            level[func] = "avx"
    return level


def leaks(levels: dict[str, str]) -> list[str]:
    found = []
    for func, lvl in sorted(levels.items()):
        allowed = AVX512_NAMES.search(func) if lvl == "avx512" else AVX_NAMES.search(func)
        if func.startswith("_GLOBAL__sub_I"):
            allowed = False
        if not allowed:
            found.append(f"{lvl:6s} {func[:300]}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    if shutil.which("objdump") is None:
        print("isa_leak_check: objdump (binutils) not found")
        return 2
    bad = 0
    for binary in argv[1:]:
        levels = wide_functions(binary)
        found = leaks(levels)
        print(f"{binary}: {len(levels)} functions use AVX or AVX-512 code, {len(found)} outside an ISA unit")
        for f in found:
            print("  LEAK", f)
        bad += len(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
