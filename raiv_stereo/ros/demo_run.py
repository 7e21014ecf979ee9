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


"""The demo's run: camera and depth nodes on the sample scene and a monitor, in one process."""

from __future__ import annotations

import argparse
from pathlib import Path
import signal
import threading
import time

import cv2
import numpy as np
from raiv_stereo.core.calibration import rectified_pinhole
from raiv_stereo.core.depth import depth_legend
from raiv_stereo.eval.metrics import DepthAccuracy
from raiv_stereo.eval.scene import sample_scene, truth_depth_m
from raiv_stereo.params import launch as launch_config
from raiv_stereo.ros import signals as stop_signals
from raiv_stereo.ros.camera_node import CameraNode
from raiv_stereo.ros.conversions import age_ms, depth_msg_to_m, msg_to_image
from raiv_stereo.ros.depth_node import DepthNode
from raiv_stereo.ros.process_tuning import tune_process
from raiv_stereo.ros.spin import BackgroundSpinner
from raiv_stereo.tools.demo import demo_launch_arguments, DemoResult, side_by_side
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage


def run_demo(args: argparse.Namespace) -> DemoResult:
    """Bring up both nodes and a monitor, run for `args.seconds`, and return the measurements."""
    # Ctrl-C (any number, at any moment) only sets `stop`: the demo then stops measuring, shuts
    # down in order and reports what it has. An exception per signal landed inside the shutdown.
    stop = stop_signals.StopRequest()
    previous_handlers = {number: signal.signal(number, stop)
                         for number in stop_signals.STOP_SIGNALS}

    launch_args = demo_launch_arguments(args)
    camera_params, depth_params = launch_config.pipeline_parameters(launch_args)
    out_dir = Path(args.out)
    result = DemoResult()
    scene = sample_scene()
    scene_times: dict[tuple[int, int], float] = {}
    latest: dict[str, object] = {}
    lock = threading.Lock()

    def overrides(params: dict) -> list[Parameter]:
        return [Parameter(name, value=value) for name, value in params.items()]

    # No rclpy signal handlers: rclpy's own would shut the context down under the nodes.
    tune_process(depth_worker=True)  # as the stereo_node executable does
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    spinner = None
    try:
        camera = CameraNode(namespace=args.namespace,
                            parameter_overrides=overrides(camera_params))
        depth_node = DepthNode(namespace=args.namespace,
                               parameter_overrides=overrides(depth_params))
        monitor = rclpy.create_node('demo_monitor', namespace=args.namespace)

        def on_frame(stamp, frame) -> None:
            with lock:
                scene_times[(stamp.sec, stamp.nanosec)] = frame.scene_time_s

        def on_depth(msg: Image) -> None:
            latency_ms = age_ms(monitor.get_clock(), msg.header.stamp)
            with lock:
                result.frames += 1
                result.latencies_ms.append(latency_ms)
                latest['depth'] = msg

        def keep(name: str):
            def callback(msg) -> None:
                with lock:
                    latest[name] = msg
            return callback

        camera.add_frame_listener(on_frame)
        monitor.create_subscription(Image, 'depth/image_rect', on_depth, 10)
        monitor.create_subscription(Image, 'depth/color', keep('color'), 10)
        monitor.create_subscription(Image, 'left/image_rect', keep('left'), 10)
        monitor.create_subscription(DisparityImage, 'disparity', keep('disparity'), 10)
        monitor.create_subscription(CameraInfo, 'depth/camera_info', keep('info'), 10)

        # One executor thread: rclpy's MultiThreadedExecutor contends for the GIL with the depth
        # worker (measured: 2.2 fps and 280 ms per frame vs 10 fps and 61 ms with this one).
        executor = SingleThreadedExecutor()
        for node in (camera, depth_node, monitor):
            executor.add_node(node)
        spinner = BackgroundSpinner(executor)

        # Warm up (first frames build maps and the matcher), then measure.
        started = time.monotonic()
        before = depth_node.stats()
        try:
            deadline = started + 30.0
            while result.frames < 2 and time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.05)
            if stop.is_set():
                raise KeyboardInterrupt
            if result.frames < 2:
                raise RuntimeError('no depth image arrived within 30 s; is DDS working on this '
                                   'host?')
            with lock:
                result.frames, result.latencies_ms = 0, []
                before = depth_node.stats()
            started = time.monotonic()
            evaluated: set[tuple[int, int]] = set()
            while time.monotonic() - started < args.seconds:
                if stop.event.wait(0.2):
                    raise KeyboardInterrupt
                with lock:
                    msg, disparity, info = (latest.get(k) for k in ('depth', 'disparity', 'info'))
                if any(v is None for v in (msg, disparity, info)) or \
                        len(result.accuracy) >= args.evaluate_frames:
                    continue
                key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
                scene_time_s = scene_times.get(key)
                if key in evaluated or scene_time_s is None:
                    continue
                evaluated.add(key)
                result.accuracy.append(_accuracy(msg, disparity, info, scene, scene_time_s, args))
        except KeyboardInterrupt:
            result.interrupted = True
        result.elapsed_s = time.monotonic() - started
        after = depth_node.stats()
        result.dropped = after.dropped_frames - before.dropped_frames
        result.processing_ms = after.processing_ms_since(before)

        with lock:
            color, left = latest.get('color'), latest.get('left')
        if color is not None:
            near_m, far_m = args.min_depth_mm / 1000.0, args.max_depth_mm / 1000.0
            color_bgr = msg_to_image(color, 'bgr8')
            pictures = {'depth_color.png': np.hstack(
                [color_bgr, depth_legend(color_bgr.shape[0], near_m, far_m, left_border=True)])}
            if left is not None:
                pictures['side_by_side.png'] = side_by_side(msg_to_image(left, 'bgr8'),
                                                            color_bgr, near_m, far_m)
            for name, picture in pictures.items():
                written = cv2.imwrite(str(out_dir / name), picture)
                (result.files if written else result.unwritten).append(out_dir / name)
        spinner.stop()
        for node in (camera, depth_node, monitor):
            node.destroy_node()
    finally:
        if spinner is not None:
            spinner.stop()
        if rclpy.ok():
            rclpy.shutdown()
        if not stop.is_set():  # else signals stay ignored while Python finalizes
            for number, handler in previous_handlers.items():
                signal.signal(number, handler)
    result.interrupted = result.interrupted or stop.is_set()
    return result


def _accuracy(msg, disparity, info, scene, scene_time_s: float,
              args: argparse.Namespace) -> DepthAccuracy:
    """Return one depth message's accuracy against the sample scene at `scene_time_s`."""
    depth_m = depth_msg_to_m(msg)
    working = rectified_pinhole(info.k[0], disparity.t, msg.width, msg.height,
                                info.k[2], info.k[5])
    truth = truth_depth_m(working, scene, scene_time_s)
    window = disparity.valid_window
    return DepthAccuracy.measure(
        depth_m, truth, args.min_depth_mm / 1000.0, args.max_depth_mm / 1000.0,
        (window.x_offset, window.y_offset, window.x_offset + window.width,
         window.y_offset + window.height))
