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

Plumbing only: the stereo core (raiv_stereo.core.pipeline) does the work; this node pairs the
topics with message_filters, keeps the newest pair for a worker thread (callbacks always drain,
latency stays bounded), publishes the results, applies parameter changes and reports diagnostics.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from raiv_stereo.core import post_filters
from raiv_stereo.core.calibration import CalibrationError, StereoCalibration
from raiv_stereo.core.depth import colorize_depth
from raiv_stereo.core.pair_order import PairOrderGuard
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.params import camera as camera_params, depth as depth_params
from raiv_stereo.params.spec import coerce
from raiv_stereo.ros import conversions, sync_diagnosis
from raiv_stereo.ros.calibration_diagnostics import (
    calibration_statuses,
    CalibrationMonitor,
    observe_calibration,
)
from raiv_stereo.ros.compat import filter_subscriber, message_filters
from raiv_stereo.ros.depth_inputs import (
    CalibrationCache,
    ConfigurationError,
    drop_queued_after,
    fit_problem,
    input_qos_profile,
    InputError,
    size_text,
    stereo_images,
    TopicWatch,
)
from raiv_stereo.ros.depth_outputs import (
    depth_camera_info,
    depth_image_msg,
    depth_status,
    DepthNodeStats,
    FrameStats,
    output_header,
    report_values,
    valid_share,
)
from raiv_stereo.ros.error_reporter import ErrorReporter, message_kind
from raiv_stereo.ros.parameters import (
    descriptor,
    keep_declared_types,
    log_changes,
    warn_unknown_parameters,
)
from raiv_stereo.ros.process_tuning import tune_process
from raiv_stereo.ros.spin import run_nodes
from raiv_stereo.ros.stage_times import StageTimes, Stopwatch
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from stereo_msgs.msg import DisparityImage

STATS_LOG_PERIOD_S = 60.0
"""The statistics line reaches the console at most this often (every period: /diagnostics)."""
SYNC_WARNING_S = 3.0
"""No pair for this long: the node says why (sync_diagnosis)."""


def parameter_descriptor(spec: depth_params.ParamSpec) -> ParameterDescriptor:
    """Return the ROS descriptor of one parameter; doubles also take whole numbers."""
    return descriptor(spec, dynamic_typing=spec.type_name == 'double')


class DepthNode(Node):
    """Stereo depth from synchronized left/right images and camera_infos (see module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('depth_node', **kwargs)
        # Parameters, with descriptors and ranges from depth_params.
        for spec in depth_params.PARAMETERS:
            self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec))
        keep_declared_types(self, depth_params.BY_NAME)
        warn_unknown_parameters(self, {spec.name for spec in camera_params.PARAMETERS})
        self._values = {spec.name: self.get_parameter(spec.name).value
                        for spec in depth_params.PARAMETERS}
        problems = depth_params.depth_settings_problems(self._values)
        if problems:
            raise ValueError('depth_node parameters: ' + '; '.join(problems))
        self._values = {name: coerce(depth_params.BY_NAME[name], value)
                        for name, value in self._values.items()}

        # The core is built on the first pair (it needs the calibration from CameraInfo).
        self._pipeline = None
        self._pipeline_config: tuple | None = None  # (calibration key, scale, settings) it has
        self._calibrations = CalibrationCache()
        self._values_lock = threading.Lock()

        # State shared between the sync callback, the worker and the timers.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: tuple | None = None
        self._pending_synced: tuple[float, int] = (0.0, 0)  # (perf_counter, ROS time ns) at sync
        self._stage_times = StageTimes()  # mean ms per stage: in stats(), logged at DEBUG
        self._stopping = False
        self._dropped_frames = 0
        self._stats = FrameStats()
        self._reporter = ErrorReporter(self.get_logger().error)
        self._busy: tuple[str, float] | None = None
        self._last_jump_s: float | None = None
        self._started_s = time.monotonic()
        self._pair_order = PairOrderGuard()
        self._calibration_monitor = CalibrationMonitor(
            self._values['calibration_check_period_s'], self._values['calibration_correction'])
        self._last_sync_s: float | None = None
        self._last_report_s = time.monotonic()
        self._last_log_s: float | None = None
        self._frames_at_last_log = 0

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

        # Subscriptions through message_filters, reliable unless qos_overrides say otherwise.
        image_suffix = 'image_rect' if self._values['input_rectified'] else 'image_raw'
        image_type = Image
        if self._values['input_transport'] == 'compressed':
            image_suffix, image_type = f'{image_suffix}/compressed', CompressedImage
        topics = [(image_type, f'left/{image_suffix}'), (image_type, f'right/{image_suffix}'),
                  (CameraInfo, 'left/camera_info'), (CameraInfo, 'right/camera_info')]
        self._filters = []
        self._watch: list[TopicWatch] = []
        for msg_type, topic in topics:
            # A profile each: rclpy writes the topic's qos_overrides into the one it is given.
            sub, lost = filter_subscriber(self, msg_type, topic, input_qos_profile(), overrides)
            if lost and not self._filters:
                self.get_logger().warning(lost)
            watch = TopicWatch(self.resolve_topic_name(topic), subscription=sub)
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

    def _on_arrival(self, msg: Any, watch: TopicWatch) -> None:
        """Count a message on one input topic; restart pairing when its stamps jump back."""
        stamp_ns = conversions.stamp_to_ns(msg.header.stamp)
        newest_ns = watch.newest_ns
        if newest_ns is not None and stamp_ns < newest_ns:
            self._restart_pairing(watch, stamp_ns, newest_ns)
        with self._lock:
            watch.newest_ns = stamp_ns
            watch.history.append((time.monotonic(), stamp_ns))

    def _restart_pairing(self, watch: TopicWatch, stamp_ns: int, newest_ns: int) -> None:
        """
        Forget every queued message stamped after `stamp_ns`: the clock jumped back.

        Called before the synchronizer sees the message (its callback was registered later).
        Without this, a queue full of the old, later stamps evicts each new message at once
        and no pair ever syncs again (a bag restarted, simulation time reset).
        """
        dropped = drop_queued_after(self._sync, stamp_ns)
        now = time.monotonic()
        with self._lock:
            for other in self._watch:
                other.forget_after(stamp_ns)
            first = self._last_jump_s is None or now - self._last_jump_s > 1.0
            self._last_jump_s = now
        if first:  # one line per jump, though each of the four topics sees it
            self.get_logger().warning(
                f'input stamps jumped back {(newest_ns - stamp_ns) / 1e9:.3f} s on '
                f'{watch.resolved_name} (a bag restarted or the clock was reset): pairing '
                f'starts again from the new stamps ({dropped} queued messages with later '
                'stamps dropped)')

    def _on_pair(self, left: Image, right: Image, left_info: CameraInfo,
                 right_info: CameraInfo) -> None:
        """Keep only the newest synchronized pair and wake the worker (never blocks)."""
        with self._wake:
            self._last_sync_s = time.monotonic()
            if self._pending is not None:
                self._dropped_frames += 1
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
        calibration = self._calibrations.last
        if not problems and calibration is not None:
            try:
                problem = fit_problem(merged, calibration, self._topic(3))
            except (CalibrationError, ValueError) as error:
                problem = str(error)
            if problem:
                size = 'x'.join(str(n) for n in calibration.image_size)
                problems = [f'with the last images ({size}): {problem}']
        if problems:
            reason = '; '.join(problems)
            self.get_logger().warning(f'rejected parameter change {changed}: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list) -> None:
        """Store accepted values; the worker applies them to the next frame."""
        with self._values_lock:
            before = dict(self._values)
            for p in parameters:
                if p.name in depth_params.BY_NAME:
                    self._values[p.name] = coerce(depth_params.BY_NAME[p.name], p.value)
        log_changes(self, [p for p in parameters if p.name in depth_params.BY_NAME], before)

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
                self._busy = (size_text(pair[0]), time.monotonic())
                synced_s, synced_ns = self._pending_synced
            started = time.perf_counter()
            cpu_started = time.thread_time()
            try:
                core_ms = self._process(*pair)
            except (InputError, CalibrationError, conversions.ConversionError) as error:
                with self._lock:
                    self._busy = None
                    self._stats.rejected += 1
                    self._stats.last_problem = str(error)
                self._error(message_kind(type(error).__name__, str(error)),
                            f'frame dropped: {error}')
                continue
            except Exception as error:  # noqa: BLE001 - the node must survive any bad frame
                if not self.context.ok():
                    return  # shut down (Ctrl-C) while this pair was being published
                with self._lock:
                    self._busy = None
                    self._stats.rejected += 1
                    self._stats.last_problem = repr(error)
                self._error(message_kind(f'unexpected {type(error).__name__}', str(error)),
                            f'frame dropped, unexpected error: {error!r}')
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            times = self._stage_times
            # DDS: from the camera's stamp to the synced pair (the camera's own work included).
            times.add('stamp to synced pair (camera publish, DDS, take)',
                      (synced_ns - conversions.stamp_to_ns(pair[0].header.stamp)) / 1e9)
            times.add('synced pair waits for the worker', started - synced_s)
            times.add("CPU of the worker thread (not OpenCV's own threads)",
                      time.thread_time() - cpu_started)
            times.pair_done()
            with self._lock:
                self._busy = None
                self._stats.processing_ms.append(elapsed_ms)
                self._stats.core_ms.append(core_ms)
                self._stats.frames += 1

    def _error(self, kind: str, message: str) -> None:
        """Log an error at most once per error_reporter.PERIOD_S for each kind of problem."""
        self._reporter.report(kind, message)

    def _topic(self, index: int) -> str:
        return self._watch[index].resolved_name

    def _configured_pipeline(self, calibration: StereoCalibration):
        """Return the pipeline for this calibration and the current settings (built lazily)."""
        with self._values_lock:
            values = dict(self._values)
        settings = depth_params.matcher_settings(values)
        scale = float(values['scale'])
        problem = fit_problem(values, calibration, self._topic(3))
        if problem:
            raise ConfigurationError(f'configuration error: {problem}')
        config = (calibration.key, scale, settings)
        if self._pipeline is None:
            self._pipeline = StereoPipeline(calibration, scale, settings)
        elif config != self._pipeline_config:
            old_key, old_scale, old_settings = self._pipeline_config
            self._pipeline.reconfigure(
                calibration=None if calibration.key == old_key else calibration,
                scale=None if scale == old_scale else scale,
                settings=None if settings == old_settings else settings)
        self._pipeline_config = config
        return self._pipeline, values

    def _process(self, left: Image, right: Image, left_info: CameraInfo,
                 right_info: CameraInfo) -> float:
        """Compute and publish everything for one pair; return the core's time in ms."""
        watch = Stopwatch(self._stage_times)
        left_raw, right_raw = stereo_images(left, right, left_info,
                                            [self._topic(0), self._topic(1), self._topic(2)])
        watch.lap('convert (messages to numpy)')
        calibration = self._calibrations.get(left_info, right_info,
                                             self._values['input_rectified'],
                                             [self._topic(2), self._topic(3)])
        core, values = self._configured_pipeline(calibration)
        post_filters.configure(core, post_filters.settings_from(values))
        watch.lap('calibration and pipeline lookup')
        self._observe_pair_order(core, left_raw, right_raw, values)
        check = self._pair_order.check
        if check.verdict == 'swapped':  # never publish depth known to be wrong
            if values['on_swapped_pair'] == 'stop':
                raise InputError(
                    f'left and right arrive swapped ({check.figures()}): no depth '
                    'until they come in order (on_swapped_pair is stop; swap exchanges them '
                    f'here). {self._swap_fix()}')
            left_raw, right_raw = right_raw, left_raw
        watch.lap('pair order check')
        result = core.process(left_raw, right_raw,
                              mask_out_of_range=bool(values['mask_out_of_range']))
        core_ms = watch.lap('core') * 1000.0
        for name in ('rectify', 'match', 'depth'):
            self._stage_times.add(f'core: {name}', result.timings_ms[name] / 1000.0)

        working = core.working
        matcher = core.matcher
        disparity_px = result.disparity_px
        height_px, width_px = disparity_px.shape[:2]
        focal_px, baseline_m = working.focal_px, working.baseline_m
        min_depth_m = values['min_depth_mm'] / 1000.0
        max_depth_m = values['max_depth_mm'] / 1000.0
        header = output_header(left.header.stamp, left_info.header.frame_id)
        window = matcher.valid_window(width_px, height_px)

        depth_m = result.depth_m
        self._pub_depth.publish(depth_image_msg(depth_m, values['depth_format'], header))
        watch.lap('publish depth')
        depth_info, K = depth_camera_info(working.left.P, width_px, height_px, header)
        self._pub_depth_info.publish(depth_info)
        watch.lap('publish depth camera_info')
        # Depth first (with its camera_info): the disparity image would delay it by its own
        # conversion and publication.
        self._pub_disparity.publish(conversions.disparity_msg(
            disparity_px, header, focal_px, baseline_m, matcher.min_disparity,
            matcher.max_disparity, window))
        watch.lap('publish disparity')
        latency_ms = conversions.age_ms(self.get_clock(), left.header.stamp)

        want_left = self._pub_left_rect is not None and \
            self._pub_left_rect.get_subscription_count() > 0
        want_points = self._pub_points.get_subscription_count() > 0
        if self._pub_color.get_subscription_count() > 0:
            color = colorize_depth(depth_m, min_depth_m, max_depth_m, window[0])
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

        note = observe_calibration(self._calibration_monitor, core, result, values)
        if note:
            self.get_logger().info(note)
        share = valid_share(depth_m, window)
        with self._lock:
            self._stats.latency_ms.append(latency_ms)
            self._stats.valid_share.append(share)
            self._stats.search_window = (
                f'{matcher.min_disparity}..{matcher.max_disparity} px '
                f'({matcher.num_disparities} disparities)')
            self._stats.working_size = f'{width_px}x{height_px}'
        watch.lap('checks and statistics')
        return core_ms

    def _observe_pair_order(self, core: Any, left_raw: np.ndarray, right_raw: np.ndarray,
                            values: dict[str, Any]) -> None:
        """Match the first pairs (and every few while swapped) both ways too; log a change."""
        change = self._pair_order.observe(lambda: core.match_both_ways(left_raw, right_raw))
        check = self._pair_order.check
        if change == 'in order again':
            self.get_logger().info(f'left and right now arrive in order ({check.figures()}): '
                                   'depth from the pairs as they come')
        elif change is None:
            return
        elif check.verdict != 'swapped':
            self.get_logger().info(f'left/right order: {check.summary()}')
        elif values['on_swapped_pair'] == 'swap':
            self.get_logger().warning(
                f'left and right arrive swapped ({check.figures()}): this node exchanges them '
                f'from now on (on_swapped_pair: swap). {self._swap_fix()}')
        else:
            self.get_logger().error(
                f'left and right arrive swapped ({check.figures()}): no depth until they come '
                f'in order (on_swapped_pair: stop). {self._swap_fix()}')

    def _swap_fix(self) -> str:
        """Say how to put left and right in order at the source."""
        return (f'Exchange them at the source: {self._topic(0)} must carry the left camera (for '
                'source raiv set camera_node raiv.swap_left_right to the other value; else swap '
                'the left/right devices, files or topic remappings)')

    # --- timers (executor thread) --------------------------------------------------------------

    def _check_sync(self) -> None:
        """Explain, in plain words, why no pair has synced for a while (sync_diagnosis)."""
        now = time.monotonic()
        with self._lock:
            last_sync = self._last_sync_s
            busy = self._busy
            arrivals = [list(w.history) for w in self._watch]
        waited = now - (last_sync if last_sync is not None else self._started_s)
        if waited < SYNC_WARNING_S:
            return
        topics = [sync_diagnosis.TopicState(
            w.resolved_name, history, reliable=w.subscribes_reliably(),
            publishers=self._publisher_reliabilities(w.resolved_name))
            for w, history in zip(self._watch, arrivals, strict=True)]
        diagnosis = sync_diagnosis.diagnose_sync(
            topics, now, waited, now - self._started_s, self._values['sync'],
            self._values['sync_slop_s'], SYNC_WARNING_S, busy)
        if diagnosis is not None:
            self._error(diagnosis.kind, diagnosis.message)

    def _publisher_reliabilities(self, topic: str) -> list[str] | None:
        """Return each publisher's reliability on `topic` ('reliable', 'best_effort')."""
        try:
            publishers = self.get_publishers_info_by_topic(topic)
        except Exception:  # noqa: BLE001 - the graph query is only for the message
            return None
        return [p.qos_profile.reliability.name.lower() for p in publishers]

    def _report(self) -> None:
        """Publish /diagnostics and log the statistics of the last period."""
        now = time.monotonic()
        with self._lock:
            s = self._stats
            fps = (s.frames - s.frames_at_last_report) / max(now - self._last_report_s, 1e-6)
            s.frames_at_last_report, self._last_report_s = s.frames, now
            check = self._pair_order.check
            values = report_values(s, self._dropped_frames, fps, check.summary())
            last_problem = s.last_problem
        status = depth_status(values, fps, check.verdict, self._values['on_swapped_pair'],
                              last_problem, self.get_fully_qualified_name())
        array = DiagnosticArray(status=[status] + calibration_statuses(
            self._calibration_monitor, self.get_fully_qualified_name()))
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)
        # The figures live in /diagnostics; the console gets them once a minute, while frames
        # flow (the first time at once), and at DEBUG every period.
        line = ', '.join(f'{k}: {v}' for k, v in values.items())
        frames = int(values['frames'])
        if frames > self._frames_at_last_log and (
                self._last_log_s is None or now - self._last_log_s >= STATS_LOG_PERIOD_S):
            self._frames_at_last_log, self._last_log_s = frames, now
            self.get_logger().info(line)
        else:
            self.get_logger().debug(line)
        self.get_logger().debug(self._stage_times.log_line())

    def stats(self) -> DepthNodeStats:
        """Return a snapshot of the counters and recent timings (thread-safe)."""
        with self._lock:
            return DepthNodeStats(
                frames=self._stats.frames, dropped_frames=self._dropped_frames,
                rejected_frames=self._stats.rejected,
                processing_ms=tuple(self._stats.processing_ms),
                pair_order=self._pair_order.check.verdict,
                pair_order_done=self._pair_order.check.done,
                stage_ms=self._stage_times.snapshot())

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout=10.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the depth node until Ctrl-C; exit code 1 with a clear message when it cannot start."""
    tune_process(depth_worker=True)
    return run_nodes([DepthNode], 'depth_node', args)


if __name__ == '__main__':
    sys.exit(main())
