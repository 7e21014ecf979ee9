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


"""The bench's measurements that run ROS: the node pipeline over DDS, message costs, publish."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from raiv_stereo.core import depth as depth_module
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.core.calibration_io import save_camera_info_yaml
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.params import launch as launch_config
from raiv_stereo.ros import conversions
from raiv_stereo.ros.camera_node import CameraNode
from raiv_stereo.ros.conversions import age_ms, stamp_to_ns
from raiv_stereo.ros.depth_node import DepthNode
from raiv_stereo.ros.process_tuning import tune_process
from raiv_stereo.ros.spin import BackgroundSpinner
from raiv_stereo.ros.stage_times import parse_log_line, stages_between
from raiv_stereo.tools.bench.pipeline import PipelineRun
from raiv_stereo.tools.bench.timing import (
    _median_ms,
    load_average,
    peak_rss_mb,
    reset_peak_rss,
)
from raiv_stereo.tools.demo import ensure_local_dds
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
import yaml


def _camera_process(params: dict, namespace: str, folder: Path) -> subprocess.Popen:
    """
    Start the camera node in its own process, as the launch files do (their environment too).

    Its logger alone at DEBUG: its per-stage time lines go to folder/camera.log.
    """
    path = folder / 'camera_params.yaml'
    path.write_text(yaml.safe_dump({'/**': {'ros__parameters': params}}))
    command = [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args',
               '-r', f'__ns:=/{namespace}', '--params-file', str(path),
               '--log-level', f'{namespace}.camera_node:=debug']
    env = dict(os.environ, **launch_config.node_environment({}),
               RCUTILS_CONSOLE_OUTPUT_FORMAT='[{severity}] [{time}] [{name}]: {message}')
    with open(folder / 'camera.log', 'w') as log:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


def _process_cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) process `pid` has used, NaN when unknown."""
    try:
        with open(f'/proc/{pid}/stat') as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return float('nan')


def _camera_stage_times(log_path: Path, start_s: float, end_s: float) -> dict[str, float]:
    """Return the camera's mean ms per pair of each stage over its log lines inside the window."""
    sums: dict[str, float] = {}
    pairs = 0.0
    try:
        lines = log_path.read_text(errors='replace').splitlines()
    except OSError:
        return {}
    for line in lines:
        snapshot = parse_log_line(line)
        parts = line.split('] [')
        if snapshot is None or len(parts) < 2:
            continue
        try:
            logged_s = float(parts[1])
        except ValueError:
            continue
        # Each line covers the ~2 s before it: keep the lines whose period lies in the window.
        if not start_s + 1.0 < logged_s <= end_s + 0.5:
            continue
        count = snapshot.pop('pairs', 0.0)
        pairs += count
        for name, mean_ms in snapshot.items():
            sums[name] = sums.get(name, 0.0) + mean_ms * count
    return {'pairs': pairs, **{name: total / pairs for name, total in sums.items()}} \
        if pairs else {}


def run_node_pipeline(seconds: float, rate_hz: float, encoding: str = 'bgr8',
                      scale: float = 0.5, min_depth_mm: float = 300.0,
                      max_depth_mm: float = 3000.0,
                      calibration: StereoCalibration | None = None,
                      camera_process: bool = False, replay_frames: int = 0,
                      depth_overrides: dict | None = None,
                      launch_overrides: dict | None = None) -> PipelineRun:
    """
    Run CameraNode (sample) -> DepthNode -> a depth subscriber over DDS, as launched.

    `calibration` (default: the RAiV nominal model) is what the camera renders and publishes;
    `camera_process` runs the camera node in its own process (as the launch files do) instead
    of this one; `replay_frames` > 0 has the camera replay that many pre-rendered pairs from
    memory instead of rendering each one. Both nodes get the launch files' parameters (reliable
    input QoS among them, `launch_overrides` as more launch arguments); `depth_overrides`
    changes depth node parameters on top.
    """
    ensure_local_dds()
    namespace = f'bench_{os.getpid()}'
    launch_args = {'source': 'sample', 'scale': f'{scale:g}', 'rate_hz': f'{rate_hz:g}',
                   'min_depth_mm': f'{min_depth_mm:g}', 'max_depth_mm': f'{max_depth_mm:g}',
                   'namespace': namespace, **(launch_overrides or {})}
    camera_launch, depth_launch = launch_config.pipeline_parameters(launch_args)
    camera_params = dict(camera_launch, encoding=encoding, **{'sample.frames': replay_frames})
    folder = Path(tempfile.mkdtemp(prefix='raiv_bench_'))
    if calibration is not None:
        # The camera renders (and publishes CameraInfo of) the same distorted rig as section 1.
        for side, model in (('left', calibration.left), ('right', calibration.right)):
            path = folder / f'{side}.yaml'
            save_camera_info_yaml(path, model, f'bench_{side}')
            camera_params[f'{side}_calibration_file'] = str(path)
    depth_params = dict(depth_launch, **(depth_overrides or {}))
    run = PipelineRun(rate_hz, seconds, encoding)
    run.layout = 'two processes (launch default)' if camera_process else \
        'one process (composed:=true)'
    run.camera = f'replays {replay_frames} pairs' if replay_frames else 'renders each pair'
    lock = threading.Lock()
    tune_process(depth_worker=True)  # as the executables' main() does
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []
    executor = None
    spinner = None
    camera_child = None
    try:
        def overrides(params: dict) -> list[Parameter]:
            return [Parameter(name, value=value) for name, value in params.items()]

        if camera_process:
            camera_child = _camera_process(camera_params, namespace, folder)
        else:
            nodes.append(CameraNode(namespace=namespace, context=context,
                                    parameter_overrides=overrides(camera_params)))
        depth_node = DepthNode(namespace=namespace, context=context,
                               parameter_overrides=overrides(depth_params))
        nodes.append(depth_node)
        monitor = rclpy.create_node('bench_monitor', namespace=namespace, context=context)
        nodes.append(monitor)

        def on_info(msg: CameraInfo) -> None:
            with lock:
                run.published += 1
                run.info_stamps_ns.append(stamp_to_ns(msg.header.stamp))

        def on_depth(msg: Image) -> None:
            latency_ms = age_ms(monitor.get_clock(), msg.header.stamp)
            with lock:
                run.received += 1
                run.latencies_ms.append(latency_ms)
                run.depth_stamps_ns.append(stamp_to_ns(msg.header.stamp))

        monitor.create_subscription(CameraInfo, 'left/camera_info', on_info, 10)
        monitor.create_subscription(Image, 'depth/image_rect', on_depth, 10)
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        spinner = BackgroundSpinner(executor, context)
        # Wait past the replayed frames' first rendering, then start counting.
        deadline = time.monotonic() + 30.0
        while run.received < max(3, replay_frames) and time.monotonic() < deadline:
            time.sleep(0.05)
        if run.received < 3:
            raise RuntimeError('no depth image arrived within 30 s; is DDS working here?')
        with lock:
            run.received, run.published, run.latencies_ms = 0, 0, []
            run.info_stamps_ns, run.depth_stamps_ns = [], []
            before = depth_node.stats()
        reset_peak_rss()
        run.load = load_average()
        camera_cpu0 = _process_cpu_s(camera_child.pid) if camera_child else float('nan')
        wall0, cpu0, epoch0 = time.monotonic(), time.process_time(), time.time()
        time.sleep(seconds)
        with lock:
            run.elapsed_s = time.monotonic() - wall0
            run.cpu_share = (time.process_time() - cpu0) / run.elapsed_s
            after = depth_node.stats()
            run.processing_ms = after.processing_ms_since(before)
            run.dropped = after.dropped_frames - before.dropped_frames
            run.depth_stages = stages_between(before.stage_ms, after.stage_ms)
            run.core_in_node_ms = run.depth_stages.get('core', float('nan'))
        if camera_child is not None:
            run.camera_cpu_share = (_process_cpu_s(camera_child.pid) - camera_cpu0) / \
                run.elapsed_s
            time.sleep(1.0)  # the camera's last stage line of the window
            run.camera_stages = _camera_stage_times(folder / 'camera.log', epoch0,
                                                    epoch0 + run.elapsed_s)
        run.peak_rss_mb = peak_rss_mb()
    finally:
        if camera_child is not None:
            camera_child.terminate()
            try:
                camera_child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                camera_child.kill()
                camera_child.wait()
        if spinner is not None:
            spinner.stop()
        elif executor is not None:
            executor.shutdown()
        for node in reversed(nodes):
            node.destroy_node()
        context.try_shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    return run


def node_stage_times(core: StereoPipeline, pair: tuple[np.ndarray, np.ndarray],
                     frames: int) -> dict[str, float]:
    """Return the depth node's costs around the core for one bgr8 pair (ms, medians), publish."""
    stages: dict[str, float] = {}
    header = Header(frame_id='bench')
    result = core.process(*pair)
    raw_msg = conversions.image_to_msg(pair[0], 'bgr8', header)
    window = core.matcher.valid_window(result.depth_m.shape[1], result.depth_m.shape[0])
    working = core.working
    stages['node.msg_to_image x2 (1600x1300 bgr8)'] = _median_ms(
        lambda: (conversions.msg_to_image(raw_msg), conversions.msg_to_image(raw_msg)), frames)
    stages['node.depth (masked f·B/d)'] = _median_ms(
        lambda: depth_module.disparity_to_depth_m(result.disparity_px, working.focal_px,
                                                  working.baseline_m, 0.3, 3.0), frames)
    stages['node.disparity_msg'] = _median_ms(
        lambda: conversions.disparity_msg(result.disparity_px, header, working.focal_px,
                                          working.baseline_m, core.matcher.min_disparity,
                                          core.matcher.max_disparity, window), frames)
    stages['node.image_to_msg depth 32FC1'] = _median_ms(
        lambda: conversions.image_to_msg(result.depth_m, '32FC1', header), frames)
    stages['node.colorize_depth (only if subscribed)'] = _median_ms(
        lambda: depth_module.colorize_depth(result.depth_m, 0.3, 3.0), frames)
    stages['node.point_cloud_msg (only if subscribed)'] = _median_ms(
        lambda: conversions.point_cloud_msg(result.depth_m, working.left.K, header,
                                            colors_bgr=None), frames)
    depth_msg = conversions.image_to_msg(result.depth_m, '32FC1', header)
    stages.update(_publish_times(raw_msg, depth_msg, frames))
    return stages


def _publish_times(raw_msg, depth_msg, frames: int) -> dict[str, float]:
    """Time publish() of a raw camera image and a depth image with a subscriber on each."""
    context = rclpy.Context()
    rclpy.init(context=context)
    out: dict[str, float] = {}
    nodes = []
    try:
        publisher_node = rclpy.create_node('bench_publisher', context=context)
        subscriber_node = rclpy.create_node('bench_subscriber', context=context)
        nodes = [publisher_node, subscriber_node]
        received: list[int] = []
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(subscriber_node)
        for label, topic, msg in (('node.publish raw 1600x1300 bgr8', 'bench_raw', raw_msg),
                                  ('node.publish depth 800x650 32FC1', 'bench_depth',
                                   depth_msg)):
            publisher = publisher_node.create_publisher(Image, topic, 5)
            subscriber_node.create_subscription(Image, topic,
                                                lambda m: received.append(len(m.data)), 5)
            deadline = time.monotonic() + 5.0
            while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            times = []
            for _ in range(frames):
                started = time.perf_counter()
                publisher.publish(msg)
                times.append((time.perf_counter() - started) * 1000.0)
                executor.spin_once(timeout_sec=0.5)
            out[label] = float(np.median(times))
        out['node.publish delivered messages'] = float(len(received))
        executor.shutdown()
    finally:
        for node in nodes:
            node.destroy_node()
        context.try_shutdown()
    return out
