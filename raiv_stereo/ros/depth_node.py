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
Depth node: synchronized stereo pairs in; disparity, REP 118 depth and a point cloud out.

Plumbing only: the stereo core (raiv_stereo.pipeline) does the work; this node pairs the topics
with message_filters, keeps the newest pair for a worker thread (callbacks always drain, latency
stays bounded), publishes the results, applies parameter changes and reports diagnostics.
"""

from __future__ import annotations

from collections import deque
import copy
from dataclasses import dataclass, field
import re
import statistics
import sys
import threading
import time
from typing import Any

import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from raiv_stereo import defaults, depth_params
from raiv_stereo.calibration import (
    CalibrationError,
    CameraModel,
    rectified_pinhole,
    StereoCalibration,
)
from raiv_stereo.pair_order import PairOrderCheck
from raiv_stereo.ros import conversions, memory
from raiv_stereo.ros.compat import message_filters
from raiv_stereo.ros.parameters import descriptor
from raiv_stereo.ros.spin import run_nodes
from raiv_stereo.ros.stage_times import StageTimes, Stopwatch
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header
from stereo_msgs.msg import DisparityImage

GIL_SWITCH_INTERVAL_S = 0.0005
"""The worker makes dozens of short OpenCV calls per pair, each giving up the GIL; the executor
thread holds it while it deserializes each 6 MB image. With Python's 5 ms switch interval the
worker waited that long for it again and again: measured, 20-24 depth frames/s at a 30 Hz camera
with sgbm_resolution half, 24-28 at 0.5 ms."""
ERROR_THROTTLE_S = 5.0
"""Each kind of input error is logged at most once per this many seconds."""
STATS_WINDOW = 100
"""Frames kept for the processing-time and latency statistics."""
SYNC_HISTORY = 100
"""Arrivals kept per input topic to explain pairs that do not sync."""


class InputError(ValueError):
    """A stereo pair the node cannot use; the message names the topic and what to do."""


def parameter_descriptor(spec: depth_params.ParamSpec) -> ParameterDescriptor:
    """Return the ROS descriptor of one parameter; doubles also take whole numbers."""
    return descriptor(spec, dynamic_typing=spec.type_name == 'double')


def _typed(name: str, value: Any) -> Any:
    """Return `value` as its parameter's type (whole numbers given for doubles as float)."""
    if isinstance(depth_params.BY_NAME[name].default, float) and type(value) is int:
        return float(value)
    return value


def _info_key(info: CameraInfo) -> tuple:
    """Return the content of a CameraInfo that the calibration depends on (a cache key)."""
    roi = info.roi
    return (info.width, info.height, info.distortion_model, tuple(info.d), tuple(info.k),
            tuple(info.r), tuple(info.p), info.binning_x, info.binning_y,
            (roi.x_offset, roi.y_offset, roi.width, roi.height))


@dataclass
class _TopicWatch:
    """Arrivals on one input topic, for explaining a pair that never syncs."""

    resolved_name: str
    history: deque = field(default_factory=lambda: deque(maxlen=SYNC_HISTORY))
    """(arrival monotonic s, stamp ns) of the latest messages."""


@dataclass
class _Stats:
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


class DepthNode(Node):
    """Stereo depth from synchronized left/right images and camera_infos (see module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('depth_node', **kwargs)
        memory.keep_freed_memory()  # received images reuse freed buffers: no page faults
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        # Parameters, with descriptors and ranges from depth_params.
        for spec in depth_params.PARAMETERS:
            self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec))
        self._values = {spec.name: self.get_parameter(spec.name).value
                        for spec in depth_params.PARAMETERS}
        problems = depth_params.depth_settings_problems(self._values)
        if problems:
            raise ValueError('depth_node parameters: ' + '; '.join(problems))
        self._values = {name: _typed(name, value) for name, value in self._values.items()}

        # The core is built on the first pair (it needs the calibration from CameraInfo).
        self._pipeline = None
        self._pipeline_calibration_key: str | None = None
        self._pipeline_settings = None
        self._pipeline_scale: float | None = None
        self._info_cache: tuple[tuple, StereoCalibration | Exception] | None = None
        self._values_lock = threading.Lock()

        # State shared between the sync callback, the worker and the timers.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: tuple | None = None
        self._pending_synced: tuple[float, int] = (0.0, 0)  # (perf_counter, ROS time ns) at sync
        self.stage_times = StageTimes()
        """Mean ms per pair of each stage; snapshot() for the bench, logged at DEBUG."""
        self._stopping = False
        self.dropped_frames = 0
        self.processing_times_ms: deque = deque(maxlen=STATS_WINDOW)
        self._stats = _Stats(processing_ms=self.processing_times_ms)
        self._error_times: dict[str, float] = {}
        self._started_s = time.monotonic()
        self.pair_order = PairOrderCheck()
        self._last_sync_s: float | None = None
        self._last_report_s = time.monotonic()

        # Publishers: reliable, QoS overridable (REP 2003).
        overrides = QoSOverridingOptions.with_default_policies()

        def publisher(msg_type: type, topic: str):
            return self.create_publisher(msg_type, topic, 10, qos_overriding_options=overrides)

        self._pub_disparity = publisher(DisparityImage, 'disparity')
        self._pub_depth = publisher(Image, 'depth/image_rect')
        self._pub_depth_info = publisher(CameraInfo, 'depth/camera_info')
        self._pub_color = publisher(Image, 'depth/color')
        self._pub_confidence = publisher(Image, 'depth/confidence')
        # With rectified input, left/image_rect is this node's input: never publish onto it.
        self._pub_left_rect = None if self._values['input_rectified'] else \
            publisher(Image, 'left/image_rect')
        self._pub_points = publisher(PointCloud2, 'points')
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

        # Subscriptions: best-effort sensor data through message_filters.
        image_suffix = 'image_rect' if self._values['input_rectified'] else 'image_raw'
        image_type = Image
        if self._values['input_transport'] == 'compressed':
            image_suffix, image_type = f'{image_suffix}/compressed', CompressedImage
        topics = [(image_type, f'left/{image_suffix}'), (image_type, f'right/{image_suffix}'),
                  (CameraInfo, 'left/camera_info'), (CameraInfo, 'right/camera_info')]
        self._filters = []
        self._watch: list[_TopicWatch] = []
        for msg_type, topic in topics:
            # A copy: rclpy writes the topic's qos_overrides into the profile it is given, and
            # this one is rclpy's module-wide qos_profile_sensor_data.
            sub = message_filters.Subscriber(self, msg_type, topic,
                                             qos_profile=copy.copy(qos_profile_sensor_data),
                                             qos_overriding_options=overrides)
            watch = _TopicWatch(self.resolve_topic_name(topic))
            sub.registerCallback(self._on_arrival, watch)
            self._filters.append(sub)
            self._watch.append(watch)
        queue_size = self._values['queue_size']
        if self._values['sync'] == 'approximate':
            self._sync = message_filters.ApproximateTimeSynchronizer(
                self._filters, queue_size, self._values['sync_slop_s'])
        else:
            self._sync = message_filters.TimeSynchronizer(self._filters, queue_size)
        self._sync.registerCallback(self._on_pair)

        # Runtime parameter changes: checked together, applied on the next frame.
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._diagnostics_timer = self.create_timer(self._values['diagnostics_period_s'],
                                                    self._report)
        self._sync_timer = self.create_timer(1.0, self._check_sync)
        self._worker = threading.Thread(target=self._work, name='depth_node_worker', daemon=True)
        self._worker.start()
        names = ', '.join(w.resolved_name for w in self._watch)
        self.get_logger().info(
            f'depth node ready: {self._values["sync"]} sync of {names}; '
            f'{self._values["min_depth_mm"]:g}-{self._values["max_depth_mm"]:g} mm at scale '
            f'{self._values["scale"]:g}')

    # --- callbacks (executor threads) ----------------------------------------------------------

    def _on_arrival(self, msg: Any, watch: _TopicWatch) -> None:
        """Count a message on one input topic (explains pairs that never sync)."""
        with self._lock:
            watch.history.append((time.monotonic(), conversions.stamp_to_ns(msg.header.stamp)))

    def _on_pair(self, left: Image, right: Image, left_info: CameraInfo,
                 right_info: CameraInfo) -> None:
        """Keep only the newest synchronized pair and wake the worker (never blocks)."""
        with self._wake:
            self._last_sync_s = time.monotonic()
            if self._pending is not None:
                self.dropped_frames += 1
            self._pending = (left, right, left_info, right_info)
            self._pending_synced = (time.perf_counter(), self.get_clock().now().nanoseconds)
            self._wake.notify()

    def _check_parameters(self, parameters: list) -> SetParametersResult:
        """Accept a change only when the merged values pass depth_settings_problems."""
        with self._values_lock:
            merged = dict(self._values)
        changed = {p.name: p.value for p in parameters if p.name in depth_params.BY_NAME}
        if not changed:
            return SetParametersResult(successful=True)
        merged.update(changed)
        problems = depth_params.depth_settings_problems(merged)
        if problems:
            reason = '; '.join(problems)
            self.get_logger().warning(f'rejected parameter change {changed}: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list) -> None:
        """Store accepted values; the worker applies them to the next frame."""
        with self._values_lock:
            for p in parameters:
                if p.name in depth_params.BY_NAME:
                    self._values[p.name] = _typed(p.name, p.value)

    # --- worker thread -------------------------------------------------------------------------

    def _work(self) -> None:
        """Process the newest pair whenever there is one, until the node is destroyed."""
        while True:
            with self._wake:
                while self._pending is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                pair, self._pending = self._pending, None
                synced_s, synced_ns = self._pending_synced
            started = time.perf_counter()
            cpu_started = time.thread_time()
            try:
                core_ms = self._process(*pair)
            except (InputError, CalibrationError, conversions.ConversionError) as error:
                with self._lock:
                    self._stats.rejected += 1
                    self._stats.last_problem = str(error)
                kind = type(error).__name__ + re.sub(r'\d+', '#', str(error))
                self._error(kind, f'frame dropped: {error}')
                continue
            except Exception as error:  # noqa: BLE001 - the node must survive any bad frame
                if not self.context.ok():
                    return  # shut down (Ctrl-C) while this pair was being published
                with self._lock:
                    self._stats.rejected += 1
                    self._stats.last_problem = repr(error)
                self._error('unexpected', f'frame dropped, unexpected error: {error!r}')
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            times = self.stage_times
            # DDS: from the camera's stamp to the synced pair (the camera's own work included).
            times.add('stamp to synced pair (camera publish, DDS, take)',
                      (synced_ns - conversions.stamp_to_ns(pair[0].header.stamp)) / 1e9)
            times.add('synced pair waits for the worker', started - synced_s)
            times.add("CPU of the worker thread (not OpenCV's own threads)",
                      time.thread_time() - cpu_started)
            times.pair_done()
            with self._lock:
                self.processing_times_ms.append(elapsed_ms)
                self._stats.core_ms.append(core_ms)
                self._stats.frames += 1

    def _error(self, kind: str, message: str) -> None:
        """Log an error at most once per ERROR_THROTTLE_S for each kind of problem."""
        now = time.monotonic()
        last = self._error_times.get(kind)
        if last is not None and now - last < ERROR_THROTTLE_S:
            return
        self._error_times[kind] = now
        self.get_logger().error(message)

    def _topic(self, index: int) -> str:
        return self._watch[index].resolved_name

    def _calibration(self, left_info: CameraInfo, right_info: CameraInfo) -> StereoCalibration:
        """Return the stereo calibration of these CameraInfos, cached by their content."""
        key = (_info_key(left_info), _info_key(right_info), self._values['input_rectified'])
        if self._info_cache is None or self._info_cache[0] != key:
            try:
                calibration = conversions.stereo_from_msgs(left_info, right_info)
                if self._values['input_rectified']:
                    # image_rect topics: only the rectified projections P apply.
                    left_model = calibration.left  # binning and ROI applied
                    calibration = rectified_pinhole(calibration.focal_px, calibration.baseline_m,
                                                    left_model.width_px, left_model.height_px,
                                                    left_model.P[0, 2], left_model.P[1, 2])
                self._info_cache = (key, calibration)
            except (CalibrationError, ValueError) as error:
                self._info_cache = (key, error)
        value = self._info_cache[1]
        if isinstance(value, Exception):
            raise CalibrationError(
                f'{self._topic(2)} and {self._topic(3)} do not describe a usable stereo pair: '
                f'{value}. Publish the stereo calibration of this rig (right P[0,3] = -fx * '
                'baseline, both cameras the same size), e.g. from camera_calibration.') from None
        return value

    def _images(self, left, right, left_info: CameraInfo) -> tuple[np.ndarray, np.ndarray]:
        """Convert and check the image pair (sizes against each other and the CameraInfo)."""
        compressed = isinstance(left, CompressedImage)
        same = not compressed and left.encoding == right.encoding and \
            left.encoding in ('mono8', 'bgr8')
        images = []
        for index, msg in enumerate((left, right)):
            try:
                images.append(conversions.compressed_to_image(msg) if compressed else
                              conversions.msg_to_image(msg, 'passthrough' if same else 'bgr8'))
            except conversions.ConversionError as error:
                raise conversions.ConversionError(f'{self._topic(index)}: {error}') from None
        if compressed and images[0].ndim != images[1].ndim:  # one grey, one colour
            images = [cv2.cvtColor(i, cv2.COLOR_GRAY2BGR) if i.ndim == 2 else i for i in images]
        (left_h, left_w), (right_h, right_w) = images[0].shape[:2], images[1].shape[:2]
        if (left_w, left_h) != (right_w, right_h):
            raise InputError(
                f'{self._topic(0)} is {left_w}x{left_h} but {self._topic(1)} is '
                f'{right_w}x{right_h}; publish both cameras at the same size')
        info_w, info_h = conversions.camera_info_image_size(left_info)  # binning, ROI
        if (left_w, left_h) != (info_w, info_h):
            raise InputError(
                f'{self._topic(0)} is {left_w}x{left_h} but {self._topic(2)} describes '
                f'{info_w}x{info_h}; publish the CameraInfo of the size '
                'actually sent (scale K and P with the image, or set binning_x/binning_y)')
        return images[0], images[1]

    def _configured_pipeline(self, calibration: StereoCalibration):
        """Return the pipeline for this calibration and the current settings (built lazily)."""
        from raiv_stereo import pipeline

        with self._values_lock:
            values = dict(self._values)
        settings = depth_params.matcher_settings(values)
        scale = float(values['scale'])
        if self._pipeline is None:
            self._pipeline = pipeline.StereoPipeline(calibration, scale, settings)
        elif (calibration.key, scale, settings) != (
                self._pipeline_calibration_key, self._pipeline_scale, self._pipeline_settings):
            self._pipeline.reconfigure(
                calibration=None if calibration.key == self._pipeline_calibration_key
                else calibration,
                scale=None if scale == self._pipeline_scale else scale,
                settings=None if settings == self._pipeline_settings else settings)
        self._pipeline_calibration_key = calibration.key
        self._pipeline_scale = scale
        self._pipeline_settings = settings
        return self._pipeline, values

    def _process(self, left: Image, right: Image, left_info: CameraInfo,
                 right_info: CameraInfo) -> float:
        """Compute and publish everything for one pair; return the core's time in ms."""
        from raiv_stereo import depth

        watch = Stopwatch(self.stage_times)
        left_raw, right_raw = self._images(left, right, left_info)
        watch.lap('convert (messages to numpy)')
        calibration = self._calibration(left_info, right_info)
        core, values = self._configured_pipeline(calibration)
        watch.lap('calibration and pipeline lookup')
        result = core.process(left_raw, right_raw,
                              mask_out_of_range=bool(values['mask_out_of_range']))
        core_ms = watch.lap('core') * 1000.0
        for name in ('rectify', 'match', 'depth'):
            self.stage_times.add(f'core: {name}', result.timings_ms[name] / 1000.0)

        working = core.working
        matcher = core.matcher
        disparity_px = result.disparity_px
        height_px, width_px = disparity_px.shape[:2]
        focal_px, baseline_m = working.focal_px, working.baseline_m
        min_depth_m = values['min_depth_mm'] / 1000.0
        max_depth_m = values['max_depth_mm'] / 1000.0
        header = _header(left.header.stamp, left_info.header.frame_id)
        window = matcher.valid_window(width_px, height_px)

        self._pub_disparity.publish(conversions.disparity_msg(
            disparity_px, header, focal_px, baseline_m, matcher.min_disparity,
            matcher.max_disparity, window))
        watch.lap('publish disparity')

        depth_m = result.depth_m
        if values['depth_format'] == '16UC1':
            depth_msg = conversions.image_to_msg(depth.depth_m_to_mm_u16(depth_m), '16UC1',
                                                 header)
        else:
            depth_msg = conversions.image_to_msg(depth_m.astype(np.float32, copy=False),
                                                 '32FC1', header)
        self._pub_depth.publish(depth_msg)
        watch.lap('publish depth')
        left_model = working.left
        K = left_model.P[:3, :3].copy()
        info_model = CameraModel(width_px, height_px, K, np.zeros(5), np.eye(3),
                                 np.hstack([K, np.zeros((3, 1))]))
        self._pub_depth_info.publish(conversions.camera_info_msg(info_model, header))
        watch.lap('publish depth camera_info')
        latency_ms = conversions.age_ms(self.get_clock(), left.header.stamp)

        want_left = self._pub_left_rect is not None and \
            self._pub_left_rect.get_subscription_count() > 0
        want_points = self._pub_points.get_subscription_count() > 0
        if self._pub_color.get_subscription_count() > 0:
            color = depth.colorize_depth(depth_m, min_depth_m, max_depth_m)
            self._pub_color.publish(conversions.image_to_msg(color, 'bgr8', header))
            watch.lap('publish depth/color')
        if self._pub_confidence.get_subscription_count() > 0:
            self._pub_confidence.publish(conversions.image_to_msg(result.confidence, '32FC1',
                                                                  header))
            watch.lap('publish confidence')
        left_rect = result.left_rect  # mono8, what was matched
        if left_raw.ndim == 3 and (want_left or (want_points and values['point_cloud_rgb'])):
            left_rect = core.rectifier.rectify_left(left_raw)  # in colour for people
        if want_left:
            encoding = 'mono8' if left_rect.ndim == 2 else 'bgr8'
            self._pub_left_rect.publish(conversions.image_to_msg(left_rect, encoding, header))
            watch.lap('publish left/image_rect')
        if want_points:
            self._pub_points.publish(conversions.point_cloud_msg(
                depth_m, K, header, colors_bgr=left_rect if values['point_cloud_rgb'] else None,
                keep_nan=bool(values['point_cloud_keep_nan'])))
            watch.lap('publish points')

        if not self.pair_order.done:
            self._check_pair_order(core, left_raw, right_raw)
        x0, y0, x1, y1 = window
        inside = depth_m[y0:y1, x0:x1]
        share = float(np.isfinite(inside).mean()) if inside.size else 0.0
        with self._lock:
            self._stats.latency_ms.append(latency_ms)
            self._stats.valid_share.append(share)
            self._stats.search_window = (
                f'{matcher.min_disparity}..{matcher.max_disparity} px '
                f'({matcher.num_disparities} disparities)')
            self._stats.working_size = f'{width_px}x{height_px}'
        watch.lap('checks and statistics')
        return core_ms

    def _check_pair_order(self, core: Any, left_raw: np.ndarray,
                          right_raw: np.ndarray) -> None:
        """Match the first pairs exchanged too; say once if left and right look swapped."""
        check = self.pair_order
        check.add(*core.match_both_ways(left_raw, right_raw))
        if not check.done:
            return
        if check.verdict == 'swapped':
            self.get_logger().error(
                f'left and right look swapped ({check.figures()}). Exchange them at the source: '
                f'{self._topic(0)} must carry the left camera (for source raiv set camera_node '
                'swap_left_right to the other value; else swap the left/right devices, files or '
                'topic remappings)')
        else:
            self.get_logger().info(f'left/right order: {check.summary()}')

    # --- timers (executor thread) --------------------------------------------------------------

    def _check_sync(self) -> None:
        """Explain, in plain words, why no pair has synced for a while."""
        now = time.monotonic()
        with self._lock:
            last_sync = self._last_sync_s
            history = [(w.resolved_name, list(w.history)) for w in self._watch]
        waited = now - (last_sync if last_sync is not None else self._started_s)
        if waited < defaults.SYNC_WARNING_S:
            return
        span_s = min(waited, 10.0)
        rates = {name: sum(1 for arrival, _ in h if now - arrival <= span_s) / span_s
                 for name, h in history}
        if not any(rates.values()):
            if now - self._started_s > 10.0 * defaults.SYNC_WARNING_S:
                self._error('no input', f'no messages on any input topic for {waited:.0f} s '
                            f'({", ".join(rates)}); is the camera node running in this '
                            'namespace?')
            return
        parts = [f'{name} is silent ({self._publisher_text(name)})'
                 for name, rate in rates.items() if rate == 0]
        hints = []
        arriving = {name: rate for name, rate in rates.items() if rate > 0}
        lossy = len(arriving) > 1 and min(arriving.values()) < 0.6 * max(arriving.values())
        if lossy:
            parts.append('messages are lost on the way (' + ', '.join(
                f'{name} {rate:.1f} Hz' for name, rate in arriving.items()) + ')')
            hints.append('Large images over best-effort lose whole messages when a fragment is '
                         'lost: subscribe reliably (qos_overrides.<topic>.subscription.'
                         'reliability:=reliable), raise net.core.rmem_max, or send smaller or '
                         'mono8 images.')
        stamps = [[stamp for _, stamp in h] for _, h in history]
        if stamps[0] and stamps[1]:
            # The best-matching recent left/right stamps: an offset, not just loss.
            closest = [min(abs(left - right) for right in stamps[1]) for left in stamps[0][-10:]]
            offset_ms = min(closest) / 1e6
            parts.append(f'the left/right image stamps are {offset_ms:.3f} ms apart (closest '
                         'pairs)')
            period_ms = 1000.0 / max(arriving.values())
            if lossy and offset_ms >= 0.5 * period_ms:
                pass  # whole frames apart: the partners were lost, the stamps may be fine
            elif offset_ms > 0 and self._values['sync'] == 'exact':
                hints.append('Exact sync needs identical stamps: set sync:=approximate with '
                             f'sync_slop_s above {offset_ms / 1000.0 * 1.5:.4f}, or stamp both '
                             'images with one capture time.')
            elif offset_ms > 0 and self._values['sync'] == 'approximate' and \
                    offset_ms / 1000.0 >= self._values['sync_slop_s']:
                hints.append(f'That is beyond sync_slop_s ({self._values["sync_slop_s"]:g} s): '
                             f'raise it above {offset_ms / 1000.0 * 1.5:.4f}.')
            for index, side in ((2, 'left'), (3, 'right')):
                if stamps[index] and not set(stamps[index]) & set(stamps[index - 2]) and \
                        not lossy and self._values['sync'] == 'exact':
                    parts.append(f'no {side} camera_info stamp equals a {side} image stamp')
                    hints.append("Stamp each CameraInfo with its image's stamp.")
        self._error('no sync', f'no synchronized stereo pair for {waited:.1f} s although '
                    f'messages arrive: {"; ".join(parts)}. {" ".join(hints)}'.rstrip())

    def _publisher_text(self, topic: str) -> str:
        """Describe a silent topic's publishers and whether their QoS can match ours."""
        try:
            publishers = self.get_publishers_info_by_topic(topic)
        except Exception:  # noqa: BLE001 - the graph query is only for the message
            return 'publishers unknown'
        if not publishers:
            return 'no publisher: check the topic name, namespace and remappings'
        kinds = sorted({p.qos_profile.reliability.name.lower() for p in publishers})
        text = (f'{len(publishers)} publisher(s), {"/".join(kinds)}, but nothing arrived; '
                'this node subscribes best-effort (matches any publisher) unless '
                'qos_overrides say otherwise')
        if QoSReliabilityPolicy.BEST_EFFORT.name.lower() in kinds:
            text += ('; a reliable subscription override does not match a best-effort '
                     'publisher')
        return text

    def _report(self) -> None:
        """Publish /diagnostics and log the statistics of the last period."""
        now = time.monotonic()
        with self._lock:
            s = self._stats
            period_s = max(now - self._last_report_s, 1e-6)
            fps = (s.frames - s.frames_at_last_report) / period_s
            s.frames_at_last_report = s.frames
            self._last_report_s = now
            processing = statistics.median(s.processing_ms) if s.processing_ms else float('nan')
            core = statistics.median(s.core_ms) if s.core_ms else float('nan')
            latency = statistics.median(s.latency_ms) if s.latency_ms else float('nan')
            valid = statistics.mean(s.valid_share) * 100.0 if s.valid_share else float('nan')
            values = {
                'processing ms (median)': f'{processing:.1f}',
                'core ms (median)': f'{core:.1f}',
                'latency ms (median)': f'{latency:.1f}',
                'fps': f'{fps:.2f}',
                'frames': str(s.frames),
                'dropped frames': str(self.dropped_frames),
                'rejected frames': str(s.rejected),
                'valid pixels %': f'{valid:.1f}',
                'search window': s.search_window,
                'working size': s.working_size,
                'left/right order': self.pair_order.summary(),
            }
            last_problem = s.last_problem
        status = DiagnosticStatus(name='raiv_stereo: depth_node',
                                  hardware_id=self.get_fully_qualified_name())
        if self.pair_order.verdict == 'swapped':
            status.level = DiagnosticStatus.ERROR
            status.message = 'left and right images look swapped'
        elif fps > 0:
            status.level, status.message = DiagnosticStatus.OK, f'{fps:.1f} fps'
        else:
            status.level = DiagnosticStatus.WARN
            status.message = 'no frames processed' + (f': {last_problem}' if last_problem else '')
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)
        self.get_logger().info(', '.join(f'{k}: {v}' for k, v in values.items()))
        self.get_logger().debug(self.stage_times.log_line())

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout=10.0)
        super().destroy_node()


def _header(stamp: Any, frame_id: str) -> Header:
    """Return a std_msgs/Header with this stamp and frame."""
    return Header(stamp=stamp, frame_id=frame_id)


def main(args: list[str] | None = None) -> int:
    """Run the depth node until Ctrl-C; exit code 1 with a clear message when it cannot start."""
    return run_nodes([DepthNode], 'depth_node', args)


if __name__ == '__main__':
    sys.exit(main())
