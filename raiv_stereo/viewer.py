"""`raiv-stereo view`: a live depth viewer for people without RViz.

With a display (and an OpenCV build with highgui), a window shows the colour depth and the depth
under the mouse cursor in millimetres; headless, it writes snapshots to a folder instead.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from raiv_stereo import defaults
from raiv_stereo.demo import ensure_local_dds


def depth_at_mm(depth_m: np.ndarray | None, x: int, y: int) -> float | None:
    """Return the depth in millimetres at pixel (x, y), or None where there is none."""
    if depth_m is None or not (0 <= y < depth_m.shape[0] and 0 <= x < depth_m.shape[1]):
        return None
    value = float(depth_m[y, x])
    return value * 1000.0 if np.isfinite(value) else None


def annotate(color_bgr: np.ndarray, depth_m: np.ndarray | None, cursor: tuple[int, int]) -> None:
    """Draw the cursor's depth on the colour image, in place."""
    x, y = cursor
    value = depth_at_mm(depth_m, x, y)
    label = f'{value:.0f} mm' if value is not None else 'no depth'
    cv2.drawMarker(color_bgr, (x, y), (255, 255, 255), cv2.MARKER_CROSS, 14, 1)
    cv2.putText(color_bgr, label, (x + 8, max(y - 8, 14)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)


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


def run(args: argparse.Namespace) -> int:
    """Subscribe to a namespace's depth topics and show (or snapshot) them."""
    ensure_local_dds()
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from raiv_stereo.ros.conversions import msg_to_image
    from raiv_stereo.ros.memory import keep_freed_memory

    latest: dict[str, np.ndarray] = {}
    lock = threading.Lock()

    def store(name: str):
        def callback(msg: Image) -> None:
            image = msg_to_image(msg)
            if name == 'depth' and msg.encoding == '16UC1':
                image = np.where(image > 0, image / 1000.0, np.nan).astype(np.float32)
            with lock:
                latest[name] = image
        return callback

    window = _display_works() and not args.snapshots
    out_dir = Path(args.out)
    keep_freed_memory()
    rclpy.init()
    node = rclpy.create_node('raiv_stereo_viewer', namespace=args.namespace)
    # Reliable, newest only: best-effort loses multi-megabyte images between processes.
    newest = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Image, 'depth/color', store('color'), newest)
    node.create_subscription(Image, 'depth/image_rect', store('depth'), newest)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    cursor = [0, 0]
    if window:
        cv2.namedWindow('raiv-stereo depth')
        cv2.setMouseCallback('raiv-stereo depth',
                            lambda event, x, y, flags, param:
                            cursor.__setitem__(slice(0, 2), [x, y]))
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f'no display: writing a snapshot every {args.interval_s:g} s to {out_dir}/')
    saved = 0
    started = time.monotonic()
    try:
        while rclpy.ok() and (args.seconds <= 0 or time.monotonic() - started < args.seconds):
            with lock:
                color, depth_m = latest.get('color'), latest.get('depth')
            if color is None:
                time.sleep(0.05)
                continue
            picture = color.copy()
            if window:
                annotate(picture, depth_m, tuple(cursor))
                cv2.imshow('raiv-stereo depth', picture)
                if cv2.waitKey(30) in (27, ord('q')):
                    break
            else:
                h, w = picture.shape[:2]
                annotate(picture, depth_m, (w // 2, h // 2))
                path = out_dir / f'depth_{saved:04d}.png'
                cv2.imwrite(str(path), picture)
                print(f'wrote {path} (centre depth: '
                      f'{depth_at_mm(depth_m, w // 2, h // 2) or float("nan"):.0f} mm)')
                saved += 1
                time.sleep(args.interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        executor.shutdown()
        spinner.join(timeout=5.0)
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        if window:
            cv2.destroyAllWindows()
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `view` subcommand."""
    parser = subparsers.add_parser('view', help='show live colour depth (or save snapshots)',
                                   description=__doc__.splitlines()[0])
    parser.add_argument('--namespace', default=defaults.NAMESPACE)
    parser.add_argument('--snapshots', action='store_true', help='write snapshots, no window')
    parser.add_argument('--out', default='view_snapshots', help='snapshot folder')
    parser.add_argument('--interval-s', type=float, default=2.0, help='time between snapshots')
    parser.add_argument('--seconds', type=float, default=0.0,
                        help='stop after this long (0 = never)')
    parser.set_defaults(func=run)
