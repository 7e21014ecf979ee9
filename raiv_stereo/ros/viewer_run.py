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


"""The viewer's run: a node subscribed to a namespace's colour and metric depth, shown or saved."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import time

import cv2
import numpy as np
from raiv_stereo.core.depth import depth_legend
from raiv_stereo.ros.conversions import depth_msg_to_m, msg_to_image, stamp_to_ns
from raiv_stereo.ros.process_tuning import tune_process
from raiv_stereo.ros.spin import BackgroundSpinner
from raiv_stereo.tools.viewer import annotate, FramesByStamp, NODE_RANGE_MM, WAIT_NOTE_PERIOD_S
from rcl_interfaces.srv import GetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image


def colour_range_m(node, topic: str, timeout_s: float = 5.0) -> tuple[float, float] | None:
    """Ask the node publishing `topic` for its min/max_depth_mm (the colour range), in metres."""
    def named_publishers() -> list[tuple[str, str]]:
        # A just-discovered publisher's node name arrives a little after the publisher itself.
        return [(info.node_namespace.rstrip('/'), info.node_name)
                for info in node.get_publishers_info_by_topic(topic)
                if not info.node_name.startswith('_NODE_NAME_UNKNOWN')]

    deadline = time.monotonic() + timeout_s
    publishers = named_publishers()
    while not publishers and time.monotonic() < deadline:
        time.sleep(0.05)
        publishers = named_publishers()
    for namespace, name in publishers:
        client = node.create_client(GetParameters, f'{namespace}/{name}/get_parameters')
        try:
            if not client.wait_for_service(timeout_sec=max(deadline - time.monotonic(), 0.0)):
                continue
            future = client.call_async(GetParameters.Request(
                names=['min_depth_mm', 'max_depth_mm']))
            while not future.done() and time.monotonic() < deadline:
                time.sleep(0.01)
            values = future.result().values if future.done() else []
            if len(values) == 2 and values[1].double_value > values[0].double_value > 0:
                return values[0].double_value / 1000.0, values[1].double_value / 1000.0
        finally:
            node.destroy_client(client)
    return None


def view(args: argparse.Namespace, window: bool, out_dir: Path | None, domain: int) -> int:
    """Show (`window`) or snapshot into `out_dir` the namespace's colour depth; the exit code."""
    latest = FramesByStamp()

    def on_color(msg: Image) -> None:
        latest.add('color', stamp_to_ns(msg.header.stamp), msg_to_image(msg, 'bgr8'))

    def on_depth(msg: Image) -> None:
        latest.add('depth', stamp_to_ns(msg.header.stamp), depth_msg_to_m(msg))

    tune_process(depth_worker=False)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C: KeyboardInterrupt
    node = rclpy.create_node('raiv_stereo_viewer', namespace=args.namespace)
    color_topic = node.resolve_topic_name('depth/color')
    depth_topic = node.resolve_topic_name('depth/image_rect')
    # Reliable, newest few: best-effort loses multi-megabyte images between processes.
    newest = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Image, color_topic, on_color, newest)
    node.create_subscription(Image, depth_topic, on_depth, newest)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = BackgroundSpinner(executor)
    saved = 0
    try:
        cursor = [0, 0]
        if window:
            cv2.namedWindow('raiv-stereo depth')

            def on_mouse(event, x, y, flags, param) -> None:
                cursor[:] = [x, y]
            cv2.setMouseCallback('raiv-stereo depth', on_mouse)
        else:
            print(f'no display: writing a snapshot every {args.interval_s:g} s to {out_dir}/',
                  flush=True)
        started = time.monotonic()
        next_note = started + WAIT_NOTE_PERIOD_S
        legend_range_m = None
        while rclpy.ok() and (args.seconds <= 0 or time.monotonic() - started < args.seconds):
            frame = latest.newest()
            if frame is None:
                if time.monotonic() >= next_note:
                    print(f'waiting for {color_topic} and {depth_topic} on ROS_DOMAIN_ID='
                          f'{domain} (discovery {os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"]}), '
                          f'{time.monotonic() - started:.0f} s so far: is the depth node '
                          'running with this namespace and domain id?', flush=True)
                    next_note += WAIT_NOTE_PERIOD_S
                time.sleep(0.05)
                continue
            _, color, depth_m = frame
            if legend_range_m is None:
                legend_range_m = colour_range_m(node, color_topic)
                if legend_range_m is None:
                    legend_range_m = (NODE_RANGE_MM[0] / 1000.0, NODE_RANGE_MM[1] / 1000.0)
                    print(f'could not read min/max_depth_mm from the node publishing '
                          f'{color_topic}; the scale bar shows the defaults '
                          f'{NODE_RANGE_MM[0]:g}-{NODE_RANGE_MM[1]:g} mm', flush=True)
            picture = color.copy()
            h, w = picture.shape[:2]
            point = tuple(cursor) if window else (w // 2, h // 2)
            label = annotate(picture, depth_m, point)
            picture = np.hstack([picture, depth_legend(h, *legend_range_m, left_border=True)])
            if window:
                cv2.imshow('raiv-stereo depth', picture)
                if cv2.waitKey(30) in (27, ord('q')):
                    break
            else:
                path = out_dir / f'depth_{saved:04d}.png'
                if not cv2.imwrite(str(path), picture):
                    print(f'raiv-stereo view: error: cannot write {path}', file=sys.stderr,
                          flush=True)
                    return 1
                print(f'wrote {path} (centre depth: {label})', flush=True)
                saved += 1
                time.sleep(args.interval_s)
    except KeyboardInterrupt:
        print(f'interrupted; {saved} snapshots written' if not window else 'interrupted',
              flush=True)
        return 130
    finally:
        spinner.stop()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        if window:
            cv2.destroyAllWindows()
    return 0
