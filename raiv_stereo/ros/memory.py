# Copyright 2026 raiv_stereo developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Keep freed image buffers mapped, so each megabyte-sized message does not page-fault anew.

glibc hands large freed blocks back to the kernel (its adaptive threshold rises only to the size
of one image, so a pair's worth of copies is trimmed again), and the next image faults them in
anew (figures in doc/benchmarks.md; test_memory.py checks the faults).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""mallopt parameter numbers, from glibc's malloc.h."""

MMAP_THRESHOLD_BYTES = 32 << 20
"""Blocks below this come from the heap and are reused (glibc's upper limit on 64-bit)."""
TRIM_THRESHOLD_BYTES = 64 << 20
"""Free memory kept at the top of each heap before any is handed back to the kernel."""

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc malloc once per process; return whether it applied (False off glibc)."""
    global _applied
    if _applied is None:
        _applied = False
        name = ctypes.util.find_library('c') if sys.platform.startswith('linux') else None
        try:
            mallopt = ctypes.CDLL(name).mallopt if name else None
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and \
                bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    return _applied
