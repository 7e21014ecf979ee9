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

import cv2
import numpy as np
from raiv_stereo.params import depth as depth_params
from raiv_stereo.params.launch import NAMESPACE
from raiv_stereo.params.spec import FloatRange, ParamSpec, ParamTable
from raiv_stereo.tools.cli import (
    CommandError,
    domain_id_from_env,
    HelpFormatter,
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


OPTIONS = ParamTable((
    ParamSpec('interval_s', 2.0, 'time between snapshots, s', FloatRange(0.05, 3600.0)),
    ParamSpec('seconds', 0.0, 'stop after this long, s; 0 = never', FloatRange(0.0, 1.0e6)),
))
"""The viewer's own settings, checked before anything starts."""


def run(args: argparse.Namespace) -> int:
    """Subscribe to a namespace's depth topics and show (or snapshot) them with a scale bar."""
    # The only ROS import of the viewer, deferred to here: the CLI's parser imports this module,
    # and `raiv-stereo --help` and the offline commands work without ROS installed.
    from raiv_stereo.ros import namespace, viewer_run

    window = _display_works() and not args.snapshots
    try:
        problems = OPTIONS.option_problems(args, OPTIONS.by_name)
        problem = namespace.namespace_problem(args.namespace)
        if problems or problem:
            raise CommandError('; '.join(problems + ([problem] if problem else [])))
        domain_id_from_env()
        out_dir = None if window else output_folder(args.out)
    except CommandError as error:
        print(f'raiv-stereo view: error: {error}', file=sys.stderr)
        return 1
    domain = ensure_local_dds()
    return viewer_run.view(args, window, out_dir, domain)


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
