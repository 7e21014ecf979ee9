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
The depth node's input side: stereo images and calibration from the four synced messages, checked.

Pure functions and a small cache (no Node state): each error names the topic at fault and the fix.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import threading
from typing import Any, Sequence

import cv2
import numpy as np
from raiv_stereo.core.calibration import CalibrationError, rectified_pinhole, StereoCalibration
from raiv_stereo.params import depth as depth_params
from raiv_stereo.ros import conversions
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage

SYNC_HISTORY = 100
"""Arrivals kept per input topic to explain pairs that do not sync."""


def input_qos_profile() -> QoSProfile:
    """Return the input subscriptions' profile: keep the last 5, depth_params.INPUT_RELIABILITY."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                      reliability=QoSReliabilityPolicy[depth_params.INPUT_RELIABILITY.upper()],
                      durability=DurabilityPolicy.VOLATILE)


@dataclass
class TopicWatch:
    """Arrivals on one input topic, for explaining a pair that never syncs."""

    resolved_name: str
    history: deque = field(default_factory=lambda: deque(maxlen=SYNC_HISTORY))
    """(arrival monotonic s, stamp ns) of the latest messages."""
    newest_ns: int | None = None
    """The latest stamp seen; an older one means the clock jumped back."""
    subscription: Any = None
    """The message_filters Subscriber (its QoS explains a silent topic)."""

    def forget_after(self, stamp_ns: int) -> None:
        """Forget arrivals stamped after `stamp_ns` (the clock jumped back to it)."""
        self.history = deque(((arrival, ns) for arrival, ns in self.history
                              if ns <= stamp_ns), maxlen=SYNC_HISTORY)
        if self.newest_ns is not None and self.newest_ns > stamp_ns:
            self.newest_ns = None  # its own next, earlier stamp is no jump

    def subscribes_reliably(self) -> bool:
        """Return True when this topic's subscription is reliable (qos_overrides applied)."""
        # message_filters.Subscriber keeps the rclpy subscription (overrides applied) as .sub.
        profile = getattr(getattr(self.subscription, 'sub', None), 'qos_profile', None)
        if profile is None:
            return depth_params.INPUT_RELIABILITY == 'reliable'
        return profile.reliability == QoSReliabilityPolicy.RELIABLE


def drop_queued_after(synchronizer: Any, stamp_ns: int) -> int:
    """
    Drop the synchronizer's queued messages stamped after `stamp_ns`; return how many.

    After the clock jumps back, a queue full of the old, later stamps would evict each new
    message at once and no pair would ever sync again (a bag restarted, simulation time reset).
    """
    # message_filters' synchronizers (real and stand-in) keep one {stamp ns: msg} per input.
    lock = getattr(synchronizer, 'lock', None)
    dropped = 0
    with lock or threading.Lock():
        for queue in getattr(synchronizer, 'queues', ()):
            for key in [key for key in queue if key > stamp_ns]:
                del queue[key]
                dropped += 1
    return dropped


class InputError(ValueError):
    """A stereo pair the node cannot use; the message names the topic and what to do."""


class ConfigurationError(InputError):
    """Settings that cannot work with the images that arrive; the message names the fix."""


def check_size(topic: str, width_px: int, height_px: int) -> None:
    """Refuse an image above depth_params.MAX_IMAGE_PIXELS before it is converted."""
    if width_px * height_px > depth_params.MAX_IMAGE_PIXELS:
        raise InputError(
            f'{topic} is {width_px}x{height_px} ({width_px * height_px} pixels), above the '
            f'{depth_params.MAX_IMAGE_PIXELS} pixels per image this node accepts; send smaller '
            'images (resize or bin them at the camera)')


def size_text(msg: Any) -> str:
    """Return 'WxH' of an Image message, or its byte size for a CompressedImage."""
    if isinstance(msg, CompressedImage):
        return f'{len(msg.data) / 1e6:.1f} MB compressed'
    return f'{msg.width}x{msg.height}'


def info_key(info: CameraInfo) -> tuple:
    """Return the content of a CameraInfo that the calibration depends on (a cache key)."""
    roi = info.roi
    return (info.width, info.height, info.distortion_model, tuple(info.d), tuple(info.k),
            tuple(info.r), tuple(info.p), info.binning_x, info.binning_y,
            (roi.x_offset, roi.y_offset, roi.width, roi.height))


def stereo_images(left: Any, right: Any, left_info: CameraInfo,
                  topics: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """
    Convert and check an image pair: sizes against each other and the left CameraInfo.

    `topics` are the resolved left image, right image and left camera_info topics (for errors).
    """
    compressed = isinstance(left, CompressedImage)
    if not compressed:
        for index, msg in enumerate((left, right)):
            check_size(topics[index], msg.width, msg.height)
    same = not compressed and left.encoding == right.encoding and \
        left.encoding in ('mono8', 'bgr8')
    images = []
    for index, msg in enumerate((left, right)):
        try:
            # A compressed image's header size is checked against the limit before decoding.
            images.append(conversions.compressed_to_image(msg) if compressed else
                          conversions.msg_to_image(msg, 'passthrough' if same else 'bgr8'))
        except conversions.ConversionError as error:
            raise conversions.ConversionError(f'{topics[index]}: {error}') from None
    if compressed and images[0].ndim != images[1].ndim:  # one grey, one colour
        images = [cv2.cvtColor(i, cv2.COLOR_GRAY2BGR) if i.ndim == 2 else i for i in images]
    (left_h, left_w), (right_h, right_w) = images[0].shape[:2], images[1].shape[:2]
    if (left_w, left_h) != (right_w, right_h):
        raise InputError(
            f'{topics[0]} is {left_w}x{left_h} but {topics[1]} is '
            f'{right_w}x{right_h}; publish both cameras at the same size')
    info_w, info_h = conversions.camera_info_image_size(left_info)  # binning, ROI
    if (left_w, left_h) != (info_w, info_h):
        raise InputError(
            f'{topics[0]} is {left_w}x{left_h} but {topics[2]} describes '
            f'{info_w}x{info_h}; publish the CameraInfo of the size '
            'actually sent (scale K and P with the image, or set binning_x/binning_y)')
    return images[0], images[1]


class CalibrationCache:
    """The stereo calibration of the latest CameraInfo pair, rebuilt when their content changes."""

    def __init__(self) -> None:
        self._cached: tuple[tuple, StereoCalibration | Exception] | None = None
        self.last: StereoCalibration | None = None
        """The latest usable calibration (runtime parameter changes are checked against it)."""

    def get(self, left_info: CameraInfo, right_info: CameraInfo, input_rectified: bool,
            info_topics: Sequence[str]) -> StereoCalibration:
        """Return the calibration of these CameraInfos; CalibrationError names the fix."""
        key = (info_key(left_info), info_key(right_info), input_rectified)
        if self._cached is None or self._cached[0] != key:
            try:
                calibration = conversions.stereo_from_msgs(left_info, right_info)
                if input_rectified:
                    # image_rect topics: only the rectified projections P apply.
                    left_model = calibration.left  # binning and ROI applied
                    calibration = rectified_pinhole(calibration.focal_px, calibration.baseline_m,
                                                    left_model.width_px, left_model.height_px,
                                                    left_model.P[0, 2], left_model.P[1, 2])
                self._cached = (key, calibration)
            except (CalibrationError, ValueError) as error:
                self._cached = (key, error)
        value = self._cached[1]
        if isinstance(value, Exception):
            raise CalibrationError(
                f'{info_topics[0]} and {info_topics[1]} do not describe a usable stereo pair: '
                f'{value}. Publish the stereo calibration of this rig (right P[0,3] = -fx * '
                'baseline, both cameras the same size), e.g. from camera_calibration.') from None
        self.last = value
        return value


def fit_problem(values: dict[str, Any], calibration: StereoCalibration,
                right_info_topic: str) -> str | None:
    """Return why these settings cannot match this calibration's images (None = they can)."""
    working = calibration.scaled(float(values['scale']))
    problem = depth_params.window_problem(values, working.focal_px, working.baseline_mm,
                                          *working.image_size)
    if problem and values['min_disparity'] < 0 and 'depth range' in problem:
        tx = float(calibration.right.P[0, 3])
        problem += (f' (the baseline comes from {right_info_topic}: P[0,3] (Tx) = {tx:g}, '
                    f'fx = {calibration.focal_px:g} px)')
    return problem
