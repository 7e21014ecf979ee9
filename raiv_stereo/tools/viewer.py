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
`raiv-stereo view`: a live depth viewer for people without RViz.

With a display (and an OpenCV build with highgui), a window shows the colour depth and the depth
under the mouse cursor in millimetres; headless, it writes snapshots to a folder instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import cv2
import numpy as np
from raiv_stereo.params import depth as depth_params
from raiv_stereo.params.launch import NAMESPACE
from raiv_stereo.params.spec import FloatRange, ParamSpec, ParamTable
from raiv_stereo.tools.cli import (
    CommandError,
    domain_id_from_env,
    HelpFormatter,
    namespace_problem,
    output_folder,
)
from raiv_stereo.tools.demo import ensure_local_dds


def depth_at_mm(depth_m: np.ndarray | None, x: int, y: int) -> float | None:
    """Return the depth in millimetres at pixel (x, y), or None where there is none."""
    if depth_m is None or not (0 <= y < depth_m.shape[0] and 0 <= x < depth_m.shape[1]):
        return None
    value = float(depth_m[y, x])
    return value * 1000.0 if np.isfinite(value) else None


def annotate(color_bgr: np.ndarray, depth_m: np.ndarray | None, cursor: tuple[int, int]) -> str:
    """Draw the cursor's depth on the colour image, in place; return the label drawn."""
    x, y = cursor
    value = depth_at_mm(depth_m, x, y)
    label = f'{value:.0f} mm' if value is not None else 'no depth'
    cv2.drawMarker(color_bgr, (x, y), (255, 255, 255), cv2.MARKER_CROSS, 14, 1)
    cv2.putText(color_bgr, label, (x + 8, max(y - 8, 14)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    return label


def _display_works() -> bool:
    """Return True when OpenCV can open a window (a display and a highgui backend)."""
    if not os.environ.get('DISPLAY') and not os.environ.get('WAYLAND_DISPLAY'):
        return False
    try:
        cv2.namedWindow('raiv-stereo probe')
        cv2.destroyWindow('raiv-stereo probe')
        return True
    except cv2.error:
        return False


NODE_RANGE_MM = (depth_params.BY_NAME['min_depth_mm'].default,
                 depth_params.BY_NAME['max_depth_mm'].default)
"""The depth node's default range: the scale bar's when the node's own is unknown."""
WAIT_NOTE_PERIOD_S = 3.0
"""How often the viewer repeats what it is waiting for while nothing arrives."""

KEPT_FRAMES = 8
"""Colour and depth images kept by stamp, so a colour frame is shown with its own pair's depth."""


class FramesByStamp:
    """The last few colour depth frames and metric depth images, paired by header stamp."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: dict[str, dict[int, np.ndarray]] = {'color': {}, 'depth': {}}

    def add(self, kind: str, stamp_ns: int, image: np.ndarray) -> None:
        """Keep `image` ('color' or 'depth') under its stamp, forgetting the oldest."""
        with self._lock:
            images = self._images[kind]
            images[stamp_ns] = image
            for old in sorted(images)[:-KEPT_FRAMES]:
                del images[old]

    def newest(self) -> tuple[int, np.ndarray, np.ndarray | None] | None:
        """
        Return (stamp_ns, colour, depth) of the newest colour frame whose depth has arrived.

        Before any such pair, the newest colour frame with depth None; None before any colour.
        """
        with self._lock:
            colors, depths = self._images['color'], self._images['depth']
            if not colors:
                return None
            paired = [stamp for stamp in colors if stamp in depths]
            stamp_ns = max(paired) if paired else max(colors)
            return stamp_ns, colors[stamp_ns], depths.get(stamp_ns)


def colour_range_m(node, topic: str, timeout_s: float = 5.0) -> tuple[float, float] | None:
    """Ask the node publishing `topic` for its min/max_depth_mm (the colour range), in metres."""
    from rcl_interfaces.srv import GetParameters

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


OPTIONS = ParamTable((
    ParamSpec('interval_s', 2.0, 'time between snapshots, s', FloatRange(0.05, 3600.0)),
    ParamSpec('seconds', 0.0, 'stop after this long, s; 0 = never', FloatRange(0.0, 1.0e6)),
))
"""The viewer's own settings, checked before anything starts."""


def run(args: argparse.Namespace) -> int:
    """Subscribe to a namespace's depth topics and show (or snapshot) them with a scale bar."""
    window = _display_works() and not args.snapshots
    try:
        problems = OPTIONS.option_problems(args, OPTIONS.by_name)
        problem = namespace_problem(args.namespace)
        if problems or problem:
            raise CommandError('; '.join(problems + ([problem] if problem else [])))
        domain_id_from_env()
        out_dir = None if window else output_folder(args.out)
    except CommandError as error:
        print(f'raiv-stereo view: error: {error}', file=sys.stderr)
        return 1
    domain = ensure_local_dds()
    from raiv_stereo.core.depth import depth_legend
    from raiv_stereo.ros.conversions import depth_msg_to_m, msg_to_image, stamp_to_ns
    from raiv_stereo.ros.process_tuning import tune_process
    from raiv_stereo.ros.spin import BackgroundSpinner
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image

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


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `view` subcommand."""
    parser = subparsers.add_parser('view', help='show live colour depth (or save snapshots)',
                                   formatter_class=HelpFormatter,
                                   description=__doc__.splitlines()[0])
    parser.add_argument('--namespace', default=NAMESPACE)
    parser.add_argument('--snapshots', action='store_true', help='write snapshots, no window')
    parser.add_argument('--out', default='view_snapshots', help='snapshot folder')
    OPTIONS.add_options(parser, OPTIONS.by_name)
    parser.set_defaults(func=run)
