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

"""Process-wide tuning for the image nodes, applied once by each executable's main()."""

from __future__ import annotations

import sys

import cv2
from raiv_stereo.ros import memory

GIL_SWITCH_INTERVAL_S = 0.0005
"""The depth worker makes dozens of short OpenCV calls per pair, each giving up the GIL, while the
executor thread holds it to deserialize each image; a short switch interval hands it back sooner
(figures in doc/benchmarks.md)."""
CAMERA_OPENCV_THREADS = 1
"""OpenCV threads of a process that only runs the camera node: its few calls per pair (one
downscale per image) gain nothing from a second thread, whose busy wait after each call cost
more CPU than the call itself (figures in doc/benchmarks.md)."""


def tune_process(depth_worker: bool, camera_only: bool = False) -> None:
    """
    Keep freed image buffers mapped (ros/memory.py); with a depth worker, shorten the GIL switch.

    camera_only: the process runs nothing but the camera node; OpenCV gets one thread.
    All settings are process-wide, so the executables' main() and the in-process tools (bench,
    demo, viewer) set them, never a node's constructor.
    """
    memory.keep_freed_memory()
    if depth_worker:
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
    if camera_only and not depth_worker:
        cv2.setNumThreads(CAMERA_OPENCV_THREADS)
