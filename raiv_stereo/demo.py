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
`raiv-stereo demo`: the camera and depth nodes on the built-in sample scene, over real topics.

Both nodes run in this process with the same launch-argument mapping as depth.launch.py; a
monitor node subscribes like any other ROS user would, measures frame rate, latency and the depth
error against the sample scene's exact geometry, and saves pictures.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import os
from pathlib import Path
import random
import statistics
import sys
import threading
import time

import cv2
import numpy as np
from raiv_stereo import defaults, launch_config
from raiv_stereo.cli import HelpFormatter
from raiv_stereo.offline import add_depth_range, geometry_problems

KEEP_UP_SHARE = 0.9
"""Below this share of the camera rate, the demo's summary explains why the depth fell behind."""


def ensure_local_dds() -> str:
    """Keep DDS on this host and pick a domain unless the user set one; return the domain id."""
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 101)))
    return os.environ['ROS_DOMAIN_ID']


def judged_mask(truth_m: np.ndarray, min_depth_m: float, max_depth_m: float,
                valid_window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Return the pixels judged for accuracy: known truth in range, inside (x0, y0, x1, y1)."""
    judged = np.isfinite(truth_m) & (truth_m >= min_depth_m) & (truth_m <= max_depth_m)
    if valid_window is not None:
        x0, y0, x1, y1 = valid_window
        window = np.zeros_like(judged)
        window[y0:y1, x0:x1] = True
        judged &= window
    return judged


@dataclass
class DepthAccuracy:
    """Depth error of one frame against ground truth, over pixels where the truth is in range."""

    completeness: float
    within_1pct: float
    within_2pct: float
    within_5pct: float
    median_error_mm: float

    @classmethod
    def measure(cls, depth_m: np.ndarray, truth_m: np.ndarray, min_depth_m: float,
                max_depth_m: float, valid_window: tuple[int, int, int, int] | None = None
                ) -> DepthAccuracy:
        """Compare `depth_m` (NaN = none) with `truth_m` inside the range and the valid window."""
        judged = judged_mask(truth_m, min_depth_m, max_depth_m, valid_window)
        total = max(int(judged.sum()), 1)
        found = judged & np.isfinite(depth_m)
        relative = np.abs(depth_m[found] - truth_m[found]) / truth_m[found]
        error_mm = np.abs(depth_m[found] - truth_m[found]) * 1000.0
        return cls(found.sum() / total, (relative <= 0.01).sum() / total,
                   (relative <= 0.02).sum() / total, (relative <= 0.05).sum() / total,
                   float(np.median(error_mm)) if error_mm.size else float('nan'))


@dataclass
class DemoResult:
    """What the demo measured."""

    frames: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    accuracy: list[DepthAccuracy] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    processing_ms: list[float] = field(default_factory=list)
    dropped: int = 0
    interrupted: bool = False

    @property
    def fps(self) -> float:
        """Return depth frames received per second."""
        return self.frames / self.elapsed_s if self.elapsed_s else 0.0


def side_by_side(left_bgr: np.ndarray, depth_color: np.ndarray, min_depth_m: float,
                 max_depth_m: float) -> np.ndarray:
    """Return `left | colour depth | metre scale bar` as one picture."""
    from raiv_stereo.depth import depth_legend

    if left_bgr.ndim == 2:
        left_bgr = cv2.cvtColor(left_bgr, cv2.COLOR_GRAY2BGR)
    legend = depth_legend(depth_color.shape[0], min_depth_m, max_depth_m)
    return np.hstack([left_bgr, depth_color, legend])


def demo_launch_arguments(args: argparse.Namespace) -> dict[str, str]:
    """Return the launch arguments depth.launch.py would get for these demo options."""
    return {'namespace': args.namespace, 'source': 'sample',
            'focal_length_mm': f'{args.focal_length_mm:g}',
            'min_depth_mm': f'{args.min_depth_mm:g}', 'max_depth_mm': f'{args.max_depth_mm:g}',
            'scale': f'{args.scale:g}', 'rate_hz': f'{args.rate_hz:g}',
            'sgbm_resolution': args.sgbm_resolution}


def run_demo(args: argparse.Namespace) -> DemoResult:
    """Bring up both nodes and a monitor, run for `args.seconds`, and return the measurements."""
    from raiv_stereo.ros.camera_node import CameraNode
    from raiv_stereo.ros.conversions import age_ms, msg_to_image
    from raiv_stereo.ros.depth_node import DepthNode
    from raiv_stereo.scene import sample_scene
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import CameraInfo, Image
    from stereo_msgs.msg import DisparityImage

    launch_args = demo_launch_arguments(args)
    camera_params, depth_params = launch_config.pipeline_parameters(launch_args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = DemoResult()
    scene = sample_scene()
    scene_times: dict[tuple[int, int], float] = {}
    latest: dict[str, object] = {}
    lock = threading.Lock()

    def overrides(params: dict) -> list[Parameter]:
        return [Parameter(name, value=value) for name, value in params.items()]

    # No rclpy signal handlers: Ctrl-C raises KeyboardInterrupt here, and the demo stops measuring
    # and reports what it has (rclpy's own handler would shut the context down under it).
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
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
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()

        # Warm up (first frames build maps and the matcher), then measure.
        started = time.monotonic()
        dropped0 = depth_node.dropped_frames
        try:
            deadline = started + 30.0
            while result.frames < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            if result.frames < 2:
                raise RuntimeError('no depth image arrived within 30 s; is DDS working on this '
                                   'host?')
            with lock:
                result.frames, result.latencies_ms = 0, []
                depth_node.processing_times_ms.clear()
                dropped0 = depth_node.dropped_frames
            started = time.monotonic()
            evaluated: set[tuple[int, int]] = set()
            while time.monotonic() - started < args.seconds:
                time.sleep(0.2)
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
        result.dropped = depth_node.dropped_frames - dropped0
        result.processing_ms = list(depth_node.processing_times_ms)

        with lock:
            color, left = latest.get('color'), latest.get('left')
        if color is not None:
            from raiv_stereo.depth import depth_legend

            near_m, far_m = args.min_depth_mm / 1000.0, args.max_depth_mm / 1000.0
            color_bgr = msg_to_image(color, 'bgr8')
            pictures = {'depth_color.png': np.hstack(
                [color_bgr, depth_legend(color_bgr.shape[0], near_m, far_m)])}
            if left is not None:
                pictures['side_by_side.png'] = side_by_side(msg_to_image(left, 'bgr8'),
                                                            color_bgr, near_m, far_m)
            for name, picture in pictures.items():
                cv2.imwrite(str(out_dir / name), picture)
                result.files.append(out_dir / name)
        executor.shutdown()
        spinner.join(timeout=5.0)
        for node in (camera, depth_node, monitor):
            node.destroy_node()
    finally:
        if rclpy.ok():
            rclpy.shutdown()
    return result


def _accuracy(msg, disparity, info, scene, scene_time_s: float,
              args: argparse.Namespace) -> DepthAccuracy:
    """Return one depth message's accuracy against the sample scene at `scene_time_s`."""
    from raiv_stereo.calibration import rectified_pinhole
    from raiv_stereo.ros.conversions import depth_msg_to_m
    from raiv_stereo.scene import truth_depth_m

    depth_m = depth_msg_to_m(msg)
    working = rectified_pinhole(info.k[0], disparity.t, msg.width, msg.height,
                                info.k[2], info.k[5])
    truth = truth_depth_m(working, scene, scene_time_s)
    window = disparity.valid_window
    return DepthAccuracy.measure(
        depth_m, truth, args.min_depth_mm / 1000.0, args.max_depth_mm / 1000.0,
        (window.x_offset, window.y_offset, window.x_offset + window.width,
         window.y_offset + window.height))


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile of `values`, NaN when there are none."""
    return float(np.percentile(values, q)) if values else float('nan')


def keep_up_hint(result: DemoResult, rate_hz: float,
                 load_1min: float | None = None) -> list[str]:
    """Return lines saying why, when the depth node delivered under 90 % of the camera rate."""
    if not result.frames or result.fps >= KEEP_UP_SHARE * rate_hz:
        return []
    load_1min = os.getloadavg()[0] if load_1min is None else load_1min
    period_ms = 1000.0 / rate_hz
    lines = [f'  NOTE: the depth node did not keep up: {result.fps:.1f} of {rate_hz:g} fps, '
             f'{result.dropped} pairs dropped (it keeps only the newest pair).']
    if result.processing_ms:
        processing_ms = statistics.median(result.processing_ms)
        lines.append(f'        It needs {processing_ms:.0f} ms per pair; the camera sends one '
                     f'every {period_ms:.0f} ms'
                     + (' (the sample camera renders its frames on the same cores).'
                        if processing_ms < period_ms else '.'))
    lines.append(f'        CPU load average {load_1min:.1f} on {os.cpu_count()} cores. Try a '
                 'lower --rate-hz, a smaller --scale, a narrower depth range, or fewer other '
                 'programs.')
    return lines


def report(result: DemoResult, args: argparse.Namespace) -> str:
    """Return the demo's printed summary."""
    lines = [
        f'raiv-stereo demo: sample scene, RAiV {args.focal_length_mm:g} mm lens, 65 mm baseline, '
        f'1600x1300 -> scale {args.scale:g}, {args.min_depth_mm:g}-{args.max_depth_mm:g} mm, '
        f'sgbm_resolution {args.sgbm_resolution}'
        + (f' (INTERRUPTED after {result.elapsed_s:.1f} of {args.seconds:g} s: figures so far)'
           if result.interrupted else ''),
        f'  depth frames received : {result.frames} in {result.elapsed_s:.1f} s = '
        f'{result.fps:.1f} fps (camera at {args.rate_hz:g} Hz; pairs dropped: {result.dropped})',
        f'  latency camera->depth : median {percentile(result.latencies_ms, 50):.0f} ms, '
        f'p90 {percentile(result.latencies_ms, 90):.0f} ms',
    ]
    if result.processing_ms:
        lines.append(f'  depth node processing : median '
                     f'{statistics.median(result.processing_ms):.0f} ms per frame')
    lines += keep_up_hint(result, args.rate_hz)
    if result.accuracy:
        def mean(name: str) -> float:
            return float(np.mean([getattr(a, name) for a in result.accuracy]))
        lines += [
            f'  depth vs ground truth ({len(result.accuracy)} frames, pixels in range and in '
            'the valid window):',
            f'    completeness {100 * mean("completeness"):.1f} %, within 1 % '
            f'{100 * mean("within_1pct"):.1f} %, within 2 % {100 * mean("within_2pct"):.1f} %, '
            f'within 5 % {100 * mean("within_5pct"):.1f} %',
            f'    median error {mean("median_error_mm"):.1f} mm',
        ]
    lines += [f'  wrote {path}' for path in result.files]
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print what it measured; unusable options are one error line, exit 1."""
    launch_args = demo_launch_arguments(args)
    try:  # the launch files' own rules first (RAiV lenses, scale range), then the geometry
        launch_config.camera_parameters(launch_args)
        launch_config.depth_parameters(launch_args)
        problems = geometry_problems(args)
        if not args.seconds > 0:
            problems.append(f'--seconds must be positive, got {args.seconds:g}')
    except launch_config.LaunchArgumentError as error:
        problems = [str(error)]
    if problems:
        print(f'raiv-stereo demo: error: {"; ".join(problems)}', file=sys.stderr)
        return 1
    domain = ensure_local_dds()
    discovery = os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE']
    # The command as the user ran it (.venv/bin/raiv-stereo), else its name on PATH.
    command = sys.argv[0] if os.path.basename(sys.argv[0]) == 'raiv-stereo' else 'raiv-stereo'
    print(f'ROS_DOMAIN_ID={domain}, DDS discovery {discovery}; running {args.seconds:g} s '
          '(Ctrl-C stops early) ...\n'
          f'  watch from another shell: ROS_DOMAIN_ID={domain} '
          f'ROS_AUTOMATIC_DISCOVERY_RANGE={discovery} {command} view --namespace '
          f'{args.namespace}\n'
          f'  or, with ROS 2 sourced and the same variables: ros2 topic hz '
          f'/{args.namespace}/depth/image_rect', flush=True)
    result = run_demo(args)
    print(report(result, args), flush=True)
    if result.interrupted:
        return 130
    return 0 if result.frames > 0 else 1


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `demo` subcommand."""
    parser = subparsers.add_parser(
        'demo', help='run the camera and depth nodes on the sample scene over real ROS topics',
        formatter_class=HelpFormatter,
        description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=8.0, help='measurement time (s)')
    parser.add_argument('--out', default='demo_output', help='folder for the pictures')
    parser.add_argument('--namespace', default=defaults.NAMESPACE, help='ROS namespace')
    parser.add_argument('--scale', type=float, default=defaults.SCALE,
                        help='depth working scale (0.25..1)')
    add_depth_range(parser)
    parser.add_argument('--focal-length-mm', type=float, default=defaults.FOCAL_LENGTH_MM,
                        help='RAiV lens focal length, mm')
    parser.add_argument('--rate-hz', type=float, default=defaults.RATE_HZ,
                        help='camera rate, Hz')
    parser.add_argument('--sgbm-resolution', default=defaults.LAUNCH_SGBM_RESOLUTION,
                        choices=defaults.SGBM_RESOLUTIONS,
                        help="where SGBM runs (the launch files' sgbm_resolution)")
    parser.add_argument('--evaluate-frames', type=int, default=5,
                        help='frames compared with ground truth')
    parser.set_defaults(func=run)
