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
The depth node's output side: messages from one core result, and the diagnostics of a period.

Pure functions (no Node state), so what the node publishes can be checked without DDS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import statistics
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
import numpy as np
from raiv_stereo.core import depth
from raiv_stereo.core.calibration import CameraModel
from raiv_stereo.ros import conversions
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

STATS_WINDOW = 100
"""Frames kept for the processing-time and latency statistics."""


def output_header(stamp: Any, frame_id: str) -> Header:
    """Return a std_msgs/Header with this stamp and frame."""
    return Header(stamp=stamp, frame_id=frame_id)


def depth_image_msg(depth_m: np.ndarray, depth_format: str, header: Header) -> Image:
    """Return the REP 118 depth image: 16UC1 in mm (0 = no depth) or 32FC1 in m (NaN)."""
    if depth_format == '16UC1':
        return conversions.image_to_msg(depth.depth_m_to_mm_u16(depth_m), '16UC1', header)
    return conversions.image_to_msg(depth_m.astype(np.float32, copy=False), '32FC1', header)


def depth_camera_info(rectified_P: np.ndarray, width_px: int, height_px: int,
                      header: Header) -> tuple[CameraInfo, np.ndarray]:
    """Return the depth image's CameraInfo (rectified: no distortion, R = I) and its K."""
    K = rectified_P[:3, :3].copy()
    model = CameraModel(width_px, height_px, K, np.zeros(5), np.eye(3),
                        np.hstack([K, np.zeros((3, 1))]))
    return conversions.camera_info_msg(model, header), K


def valid_share(depth_m: np.ndarray, window: tuple[int, int, int, int]) -> float:
    """Return the share of pixels with depth inside the matcher's valid window (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = window
    inside = depth_m[y0:y1, x0:x1]
    return float(np.isfinite(inside).mean()) if inside.size else 0.0


@dataclass(frozen=True)
class DepthNodeStats:
    """A snapshot of what the depth node has done so far (for the bench, demo and tests)."""

    frames: int
    """Pairs processed and published."""
    dropped_frames: int
    """Synced pairs replaced by a newer one before the worker took them."""
    rejected_frames: int
    """Pairs refused (bad input or settings), each with a logged reason."""
    processing_ms: tuple[float, ...]
    """Worker time of each of the latest (at most STATS_WINDOW) processed pairs."""
    pair_order: str
    """The left/right order verdict: 'not checked yet', 'as given', 'swapped' or 'inconclusive'."""
    pair_order_done: bool
    """True once the left/right order check has seen enough pairs."""
    stage_ms: dict[str, float]
    """StageTimes.snapshot(): 'pairs' and the mean ms per pair of each stage since the start."""

    def processing_ms_since(self, before: DepthNodeStats) -> list[float]:
        """Return the processing times of the pairs processed after `before` (the newest kept)."""
        new = self.frames - before.frames
        return list(self.processing_ms[-new:]) if new > 0 else []


@dataclass
class FrameStats:
    """Per-frame measurements shared by the worker thread and the diagnostics timer."""

    processing_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    core_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    valid_share: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    frames: int = 0
    frames_at_last_report: int = 0
    rejected: int = 0
    search_window: str = 'not yet computed'
    working_size: str = 'not yet known'
    last_problem: str = ''


def report_values(stats: FrameStats, dropped_frames: int, fps: float,
                  pair_order: str) -> dict[str, str]:
    """Return the diagnostics key/values of a period: medians of the kept frames, counters."""
    def median(values: deque) -> float:
        return statistics.median(values) if values else float('nan')

    valid = statistics.mean(stats.valid_share) * 100.0 if stats.valid_share else float('nan')
    return {
        'processing ms (median)': f'{median(stats.processing_ms):.1f}',
        'core ms (median)': f'{median(stats.core_ms):.1f}',
        'latency ms (median)': f'{median(stats.latency_ms):.1f}',
        'fps': f'{fps:.2f}',
        'frames': str(stats.frames),
        'dropped frames': str(dropped_frames),
        'rejected frames': str(stats.rejected),
        'valid pixels %': f'{valid:.1f}',
        'search window': stats.search_window,
        'working size': stats.working_size,
        'left/right order': pair_order,
    }


def depth_status(values: dict[str, str], fps: float, pair_order_verdict: str,
                 on_swapped_pair: str, last_problem: str, hardware_id: str) -> DiagnosticStatus:
    """Return the node's DiagnosticStatus: swapped pairs first, then whether frames flow."""
    status = DiagnosticStatus(name='raiv_stereo: depth_node', hardware_id=hardware_id)
    if pair_order_verdict == 'swapped' and on_swapped_pair == 'swap':
        status.level = DiagnosticStatus.WARN
        status.message = 'left and right images arrive swapped: exchanged by this node'
    elif pair_order_verdict == 'swapped':
        status.level = DiagnosticStatus.ERROR
        status.message = 'left and right images arrive swapped: no depth published'
    elif fps > 0:
        status.level, status.message = DiagnosticStatus.OK, f'{fps:.1f} fps'
    else:
        status.level = DiagnosticStatus.WARN
        status.message = 'no frames processed' + (f': {last_problem}' if last_problem else '')
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    return status
