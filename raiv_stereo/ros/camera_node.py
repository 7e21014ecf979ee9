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
Camera driver node: synchronized left/right Image + CameraInfo from any frame source.

Thin plumbing: parameters come from raiv_stereo.params.camera, frames from raiv_stereo.sources,
calibration from raiv_stereo.core.calibration; this node stamps, converts and publishes them.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
import sys
import time
from typing import Any, Callable

import numpy as np
from raiv_stereo.core import calibration as calib, calibration_io, tf_frames as frames
from raiv_stereo.core.calibration import CalibrationError, CameraModel, StereoCalibration
from raiv_stereo.params import camera as camera_params, depth as depth_params
from raiv_stereo.ros.camera_info_store import (
    calibration_paths,
    checked_model,
    next_start_note,
    with_camera,
)
from raiv_stereo.ros.conversions import (
    camera_info_msg,
    camera_model_from_msg,
    compressed_msg,
    ns_to_stamp,
    published_image,
    transform_msg,
)
from raiv_stereo.ros.error_reporter import ErrorReporter, message_kind
from raiv_stereo.ros.exposure_binding import CameraSetupError, ExposureBinding
from raiv_stereo.ros.parameters import (
    descriptor,
    keep_declared_types,
    log_changes,
    warn_unknown_parameters,
)
from raiv_stereo.ros.process_tuning import tune_process
from raiv_stereo.ros.spin import run_nodes
from raiv_stereo.ros.stage_times import StageTimes, Stopwatch
from raiv_stereo.sources import (
    EndOfSource,
    FrameSource,
    open_source,
    source_class,
    SourceError,
    StereoFrame,
)
from raiv_stereo.sources.exposure import ExposureError
from raiv_stereo.sources.stream import stream_waiting_text
from rcl_interfaces.msg import SetParametersResult
from rclpy.logging import LoggingSeverity
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from sensor_msgs.srv import SetCameraInfo
from std_msgs.msg import Header

PUBLISH_DEPTH = 5
"""Keep-last depth of the image and camera_info publishers."""
PUSHED_POLL_HZ = 200.0
"""How often the node polls a pushed source (stream, raiv) for a new pair."""
STATS_LOG_PERIOD_S = 2.0
"""The per-stage time sums of the last period are logged at DEBUG this often, then restarted."""

FrameListener = Callable[[Any, StereoFrame], None]


@dataclasses.dataclass(frozen=True)
class CameraNodeStats:
    """A snapshot of the camera node's counters (for the bench, demo and tests)."""

    published_pairs: int
    """Pairs published (camera_info for each, images only for subscribed topics)."""
    images_converted: tuple[int, int]
    """Left and right images made so far (only for topics someone subscribes to)."""
    stage_ms: dict[str, float]
    """StageTimes.snapshot() since the last DEBUG stage-times line (reset after each)."""


class CameraNode(Node):
    """Publishes left/right image_raw and camera_info with one stamp per pair."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('camera_node', **kwargs)
        self._listeners: list[FrameListener] = []
        self._source: FrameSource | None = None
        self._timer = None
        self._finished = False
        self._tf = None  # the static TF broadcaster, made with the publishers
        self._published = 0
        self._stage_times = StageTimes()  # reset after each DEBUG log line
        self._reporter = ErrorReporter(self.get_logger().error)
        self._images_converted = [0, 0]  # left, right: only for topics someone subscribes to
        self._stats_logged_s = time.monotonic()
        try:
            self._setup()
        except BaseException:
            self._close_source()
            self.destroy_node()
            raise

    # --- setup -------------------------------------------------------------------------------

    def _setup(self) -> None:
        """Declare parameters, build calibration and source, then publishers, services, timer."""
        for spec in camera_params.PARAMETERS:
            if spec.name not in camera_params.EXPOSURE_PARAMETERS:
                self._declare(spec)
        values = self.parameter_values()
        problems = camera_params.camera_settings_problems(values)
        if problems:
            raise CameraSetupError('camera_node parameters: ' + '; '.join(problems))
        self._kind = values['source']
        self._pushed = source_class(self._kind).pushed
        self._scale = float(values['scale'])
        self._encoding = values['encoding']
        self._camera_name = values['camera_name']
        self._frame_ids = self._make_frame_ids(values)

        file_calibration = self._file_calibration(values)
        nominal = calib.raiv_nominal(values['baseline_mm'], values['focal_length_mm'],
                                     values['pixel_size_um'])
        # Sources deliver the sensor's size (the sample renders it), the node resizes: what the
        # published images cost is what a real camera's would.
        self._source = open_source(self._kind, values, file_calibration or nominal)
        if file_calibration is None and self._source.calibration_problem:
            raise CalibrationError(f'{self._source.calibration_problem}; or give '
                                   'calibration_file (or left/right_calibration_file)')
        self._exposure = ExposureBinding(self._kind, self._source)
        self._exposure.declare(self._declare)
        if file_calibration is not None:
            self._use_calibration(file_calibration, 'calibration file')
        elif self._source.calibration is not None:
            self._use_calibration(self._source.calibration.validate(),
                                  "the device's own calibration")
        elif self._pushed:
            self._use_calibration(nominal, 'RAiV nominal model until the device sends its own')
        else:
            self._use_calibration(nominal, 'RAiV nominal model')
        self._device_calibration_key = None if self._source.calibration is None \
            else self._source.calibration.key
        self._file_calibration_set = file_calibration is not None

        # REP 2003: the system default (reliable, volatile) profile, keep last QUEUE_SIZE.
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=PUBLISH_DEPTH,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        overrides = QoSOverridingOptions.with_default_policies()
        # A copy each: rclpy writes a topic's qos_overrides into the profile it is given.
        self._image_pubs = [self.create_publisher(Image, f'{side}/image_raw', copy.copy(qos),
                                                  qos_overriding_options=overrides)
                            for side in ('left', 'right')]
        self._info_pubs = [self.create_publisher(CameraInfo, f'{side}/camera_info',
                                                 copy.copy(qos), qos_overriding_options=overrides)
                           for side in ('left', 'right')]
        # image_transport's compressed topics (CompressedImage), for remote viewers.
        self._compressed_pubs = [
            self.create_publisher(CompressedImage, f'{side}/image_raw/compressed',
                                  copy.copy(qos), qos_overriding_options=overrides)
            for side in ('left', 'right')] if values['publish_compressed'] else []
        self._jpeg_quality = int(values['jpeg_quality'])
        self._tf = self._tf_broadcaster(bool(values['publish_tf']))
        self._send_transforms()
        # Not self._services: rclpy keeps every service there, the parameter services too.
        self._set_camera_info_services = [
            self.create_service(SetCameraInfo, f'{side}/set_camera_info',
                                lambda req, resp, i=index: self._on_set_camera_info(i, req, resp))
            for index, side in enumerate(('left', 'right'))]
        keep_declared_types(self, camera_params.BY_NAME)
        warn_unknown_parameters(self, set(depth_params.BY_NAME))
        self._values_before_set = self.parameter_values()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.add_post_set_parameters_callback(self._on_parameters_set)
        self._rate_hz = float(values['rate_hz'])
        self._make_timer()
        self.get_logger().info(
            f"source '{self._kind}', publishing {self._size[0]}x{self._size[1]} "
            f'{self._encoding} at {self._timer_text()}')
        waiting = stream_waiting_text(self._source, values)
        if waiting:
            self.get_logger().info(waiting)

    def _declare(self, spec: camera_params.ParamSpec) -> Any:
        return self.declare_parameter(spec.name, spec.default, descriptor(
            spec, dynamic_typing=camera_params.loosely_typed(spec))).value

    def parameter_values(self) -> dict[str, Any]:
        """Return every declared parameter of the table by name (the options sources get)."""
        return {spec.name: camera_params.coerce(spec, self.get_parameter(spec.name).value)
                for spec in camera_params.PARAMETERS if self.has_parameter(spec.name)}

    def _make_frame_ids(self, values: dict[str, Any]) -> tuple[str, str]:
        left, right = frames.optical_frames(values['camera_name'])
        return values['left_frame_id'] or left, values['right_frame_id'] or right

    def _tf_broadcaster(self, wanted: bool):
        """Return a tf2_ros StaticTransformBroadcaster, None when off or tf2_ros is absent."""
        if not wanted:
            return None
        try:
            from tf2_ros import StaticTransformBroadcaster
        except ImportError:
            self.get_logger().info(
                'static TF not published: tf2_ros is not installed (the no-ROS pip path; a ROS '
                'install has it). Set publish_tf:=false to silence this.')
            return None
        return StaticTransformBroadcaster(self)

    def static_transforms(self) -> list[frames.StaticTransform]:
        """Return <camera>_link -> camera frames -> optical frames for the current calibration."""
        return frames.camera_transforms(self._camera_name, self._calibration.baseline_m,
                                        *self._frame_ids)

    def _send_transforms(self) -> None:
        """(Re)publish the static transforms on /tf_static (when tf2_ros is there and asked)."""
        if self._tf is None:
            return
        stamp = self.get_clock().now().to_msg()
        self._tf.sendTransform([transform_msg(t, stamp) for t in self.static_transforms()])

    def _file_calibration(self, values: dict[str, Any]) -> StereoCalibration | None:
        """Return the calibration from the file parameters, None when none is given."""
        if values['calibration_file']:
            return calibration_io.load_calibration([values['calibration_file']])
        if values['left_calibration_file']:
            return calibration_io.load_calibration([values['left_calibration_file'],
                                                    values['right_calibration_file']])
        return None

    def _use_calibration(self, calibration: StereoCalibration, origin: str) -> None:
        """Publish CameraInfo from `calibration` (full size) scaled to the published size."""
        self._calibration = calibration
        published = calibration.scaled(self._scale)
        self._size = published.image_size
        self._models = [published.left, published.right]
        self._infos = [self._info_msg(model) for model in self._models]
        self._send_transforms()  # the baseline may have changed
        self.get_logger().info(f'calibration: {origin}: {calibration.description}; published at '
                               f'{self._size[0]}x{self._size[1]} (scale {self._scale:g})')

    def _info_msg(self, model: CameraModel) -> CameraInfo:
        return camera_info_msg(model, Header())

    def _make_timer(self) -> None:
        """(Re)create the read timer: rate_hz, or the fast poll rate for pushed sources."""
        if self._timer is not None:
            self.destroy_timer(self._timer)
        rate_hz = max(self._rate_hz, PUSHED_POLL_HZ) if self._pushed \
            else self._rate_hz
        self._timer = self.create_timer(1.0 / rate_hz, self._on_timer)

    def _timer_text(self) -> str:
        if self._pushed:
            return 'the rate the device sends'
        return f'{self._rate_hz:g} Hz'

    # --- public ------------------------------------------------------------------------------

    def add_frame_listener(self, callback: FrameListener) -> None:
        """Call `callback(stamp, frame)` after each published pair (frame as published)."""
        self._listeners.append(callback)

    @property
    def calibration(self) -> StereoCalibration:
        """Return the calibration in use at the published size."""
        return StereoCalibration(self._models[0], self._models[1],
                                 self._calibration.description)

    def stats(self) -> CameraNodeStats:
        """Return a snapshot of what this node has published so far."""
        return CameraNodeStats(published_pairs=self._published,
                               images_converted=tuple(self._images_converted),
                               stage_ms=self._stage_times.snapshot())

    @property
    def finished(self) -> bool:
        """Return True once a finite source has ended (nothing more will be published)."""
        return self._finished

    def destroy_node(self) -> None:
        """Close the source, then destroy the node."""
        self._close_source()
        super().destroy_node()

    def _close_source(self) -> None:
        if self._source is not None:
            source, self._source = self._source, None
            try:
                source.close()
            except Exception as error:  # noqa: BLE001 (closing must not hide the real error)
                self.get_logger().warning(f'closing the {self._kind} source: {error}')

    # --- frames ------------------------------------------------------------------------------

    def _error(self, message: str) -> None:
        """Log an error at most once per error_reporter.PERIOD_S for each kind of problem."""
        self._reporter.report(message_kind('camera', message), message)

    def _on_timer(self) -> None:
        """Read one pair from the source (never blocks long) and publish it."""
        source = self._source  # destroy_node may close it meanwhile from another thread
        if self._finished or source is None:
            return
        cpu_started = time.thread_time()
        watch = Stopwatch(self._stage_times)
        try:
            frame = source.read()
        except EndOfSource:
            self._finished = True
            self._timer.cancel()
            self.get_logger().info(
                f"source '{self._kind}' ended after {self._published} published pairs; "
                'stopping (set loop:=true to start again at the end)')
            return
        except SourceError as error:
            self._error(f"source '{self._kind}': {error}")
            return
        if frame is None:
            return
        watch.lap('read (capture or replay)')
        self._check_device_calibration(source)
        if frame.capture_time_ns is not None:
            stamp = ns_to_stamp(frame.capture_time_ns)
        else:
            stamp = self.get_clock().now().to_msg()
        headers = [Header(stamp=stamp, frame_id=frame_id) for frame_id in self._frame_ids]
        # Work only for what someone takes: a side's image is converted when its topic (or its
        # compressed topic) has a subscriber, or a listener or auto exposure needs it.
        need_msg = [pub.get_subscription_count() > 0 for pub in self._image_pubs]
        need_array = [bool(self._listeners) or (self._exposure.auto and index == 0) or
                      (bool(self._compressed_pubs) and
                       self._compressed_pubs[index].get_subscription_count() > 0)
                      for index in range(2)]
        try:
            prepared = [self._prepare(image, name, header, as_msg) if as_msg or as_array
                        else (None, None)
                        for image, name, header, as_msg, as_array in zip(
                            (frame.left, frame.right), ('left', 'right'), headers, need_msg,
                            need_array, strict=True)]
        except ValueError as error:
            self._error(f'dropped a frame: {error}')
            return
        except Exception as error:  # noqa: BLE001 (cv2.error, MemoryError: drop it, keep running)
            self._error(f'dropped a frame: {type(error).__name__}: {str(error)[:300]}')
            return
        for index, (image, _) in enumerate(prepared):
            self._images_converted[index] += image is not None
        watch.lap('resize and convert')
        try:
            self._publish(dataclasses.replace(frame, left=prepared[0][0], right=prepared[1][0]),
                          [msg for _, msg in prepared], headers, watch)
        except Exception:
            if self.context.ok():
                raise
            # Ctrl-C shut the context down while publishing: nothing more to do.
            return
        self._stage_times.add('CPU of the timer thread', time.thread_time() - cpu_started)
        self._stage_times.pair_done()
        now = time.monotonic()
        logger = self.get_logger()
        if now - self._stats_logged_s >= STATS_LOG_PERIOD_S and \
                logger.is_enabled_for(LoggingSeverity.DEBUG):
            self._stats_logged_s = now
            logger.debug(self._stage_times.log_line())
            self._stage_times.reset()

    def _check_device_calibration(self, source: FrameSource) -> None:
        """Switch to a calibration the source learned (device, stream) unless a file is given."""
        device = source.calibration
        if self._file_calibration_set or device is None or \
                device.key == self._device_calibration_key:
            return
        self._device_calibration_key = device.key
        try:
            self._use_calibration(device.validate(), "the device's own calibration")
        except CalibrationError as error:
            self._error(f'the device sent an unusable calibration ({error}); keeping '
                        f'{self._calibration.description}')

    def _prepare(self, image: np.ndarray, name: str, header: Header,
                 as_msg: bool) -> tuple[np.ndarray, Image | None]:
        """Return `image` at the published size and encoding, and its Image when `as_msg`."""
        return published_image(image, name, self._size, self._encoding, header, as_msg)

    def _publish(self, frame: StereoFrame, msgs: list[Image | None], headers: list[Header],
                 watch: Stopwatch) -> None:
        """Publish the images asked for and both camera_infos with one stamp, then listeners."""
        for index, image in enumerate((frame.left, frame.right)):
            if msgs[index] is not None:
                self._image_pubs[index].publish(msgs[index])
                watch.lap('publish image')
            if image is not None and self._compressed_pubs and \
                    self._compressed_pubs[index].get_subscription_count():  # None: subscribed late
                self._compressed_pubs[index].publish(
                    compressed_msg(image, headers[index], self._jpeg_quality))
                watch.lap('compress and publish')
        for index in range(2):
            info = self._infos[index]
            info.header = headers[index]
            self._info_pubs[index].publish(info)
        watch.lap('publish camera_info')
        self._published += 1
        for listener in list(self._listeners):
            listener(headers[0].stamp, frame)
        if self._exposure.auto:
            self._auto_exposure_step(frame.left)
        if self._listeners or self._exposure.auto:
            watch.lap('listeners and auto exposure')

    def _auto_exposure_step(self, image: np.ndarray) -> None:
        """Let auto exposure move exposure/gain (once per period), then show them as parameters."""
        try:
            wanted = self._exposure.auto_step(image)
        except ExposureError as error:
            self._error(f'auto_exposure: {error}')
            return
        if wanted is None:
            return
        self._exposure.updating = True
        try:
            self.set_parameters([Parameter('exposure', value=wanted[0]),
                                 Parameter('gain', value=wanted[1])])
        finally:
            self._exposure.updating = False

    # --- set_camera_info ---------------------------------------------------------------------

    def calibration_paths(self) -> tuple[Path, Path]:
        """Return where set_camera_info stores each camera (the YAML pair, else ~/.ros)."""
        return calibration_paths(self.get_parameter('left_calibration_file').value,
                                 self.get_parameter('right_calibration_file').value,
                                 self._camera_name)

    def _on_set_camera_info(self, index: int, request: SetCameraInfo.Request,
                            response: SetCameraInfo.Response) -> SetCameraInfo.Response:
        """Validate and store one camera's new calibration, then publish it."""
        side = ('left', 'right')[index]
        try:
            model = checked_model(camera_model_from_msg(request.camera_info), side, self._size)
            native = self._calibration.image_size
            path = self.calibration_paths()[index]
            calibration_io.save_camera_info_yaml(path, model.scaled_to(*native),
                                                 f'{self._camera_name}_{side}')
        except (CalibrationError, ValueError, OSError) as error:
            response.success = False
            response.status_message = f'{side} calibration not stored: {error}'
            self.get_logger().error(response.status_message)
            return response
        models = list(self._models)
        models[index] = model
        self._models = models
        self._infos[index] = self._info_msg(model)
        self._calibration, note = with_camera(self._calibration, index, model, path)
        note += next_start_note(path, self.get_parameter('calibration_file').value)
        response.success = True
        response.status_message = f'stored {side} calibration in {path}{note}'
        self.get_logger().info(response.status_message)
        return response

    # --- parameters at runtime ---------------------------------------------------------------

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Accept a change only if every value and the resulting set are usable."""
        values = self.parameter_values()
        self._values_before_set = dict(values)
        problems = []
        for param in params:
            spec = camera_params.BY_NAME.get(param.name)
            if spec is None:
                continue
            value = camera_params.coerce(spec, param.value)
            problem = camera_params.value_problem(spec, value)
            if problem:
                problems.append(problem)
            values[param.name] = value
        if not problems:
            problems = camera_params.camera_settings_problems(values)
        names = {param.name for param in params}
        if not problems:
            problems = self._exposure.problems(names, values, self._source is not None)
        if problems:
            return SetParametersResult(successful=False, reason='; '.join(problems))
        # The only change applied before the post-set callback: the device's answer is the check.
        try:
            written = self._exposure.write(names, values)
        except ExposureError as error:
            self.get_logger().error(f'rejected {sorted(names)}: {error}')
            return SetParametersResult(successful=False, reason=str(error))
        if written is not None:
            self.get_logger().info(f'exposure {written[0]}, gain {written[1]}')
        return SetParametersResult(successful=True)

    def _on_parameters_set(self, params: list[Parameter]) -> None:
        """Apply accepted changes: encoding and frame ids at once, rate_hz by a new timer."""
        names = {param.name for param in params}
        values = self.parameter_values()
        if not self._exposure.updating:  # auto_exposure's own steps are not news
            log_changes(self, [p for p in params if p.name in camera_params.BY_NAME],
                        self._values_before_set)
        self._encoding = values['encoding']
        self._jpeg_quality = int(values['jpeg_quality'])
        frame_ids = self._make_frame_ids(values)
        if frame_ids != self._frame_ids:
            self._frame_ids = frame_ids
            self._send_transforms()
        self._exposure.auto = bool(values['auto_exposure'])
        if 'rate_hz' in names and float(values['rate_hz']) != self._rate_hz:
            self._rate_hz = float(values['rate_hz'])
            if not self._finished:
                self._make_timer()
            self.get_logger().info(f'rate_hz is now {self._rate_hz:g}')


def main(args: list[str] | None = None) -> int:
    """Run the camera node until Ctrl-C; exit code 1 with a clear message when it cannot start."""
    tune_process(depth_worker=False, camera_only=True)
    return run_nodes([CameraNode], 'camera_node', args, events_executor=True)


if __name__ == '__main__':
    sys.exit(main())
