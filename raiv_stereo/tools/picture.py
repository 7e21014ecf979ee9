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

"""`raiv-stereo picture`: the README's picture, the sample scene through the launch defaults."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
import sys

import cv2
import numpy as np
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.core.depth import colorize_depth, depth_legend
from raiv_stereo.core.matching.sgbm import MatcherSettings
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.eval.scene import Renderer
from raiv_stereo.params import depth as depth_params
from raiv_stereo.tools.cli import HelpFormatter

README_PICTURE = 'resource/demo_side_by_side.jpg'


def sample_picture(height_px: int = 390, time_s: float = 0.0,
                   sgbm_resolution: str = depth_params.BY_NAME['sgbm_resolution'].default
                   ) -> np.ndarray:
    """
    Return `rectified left | colour depth | scale bar` of the sample scene, `height_px` tall.

    The RAiV nominal rig at 1600x1300, scale 0.5, 300-3000 mm and the default SGBM
    resolution: what `ros2 launch raiv_stereo depth.launch.py` shows for the built-in scene.
    """
    calibration = raiv_nominal()
    pair = Renderer(calibration).render(time_s, with_truth=False)
    settings = dataclasses.replace(MatcherSettings(), sgbm_resolution=sgbm_resolution)
    node = depth_params.default_values()
    pipeline = StereoPipeline(calibration, node['scale'], settings)
    result = pipeline.process(pair.left_bgr, pair.right_bgr)
    height, width = result.depth_m.shape
    near_m, far_m = node['min_depth_mm'] / 1000.0, node['max_depth_mm'] / 1000.0
    border_px = pipeline.matcher.valid_window(width, height)[0]
    colour = colorize_depth(result.depth_m, near_m, far_m, border_px)
    left = pipeline.rectifier.rectify_left(pair.left_bgr)
    size = (int(round(width * height_px / height)), height_px)
    left = cv2.resize(left, size, interpolation=cv2.INTER_AREA)
    colour = cv2.resize(colour, size, interpolation=cv2.INTER_NEAREST)
    legend = depth_legend(height_px, near_m, far_m, left_border=True)
    return np.hstack([left, colour, legend])


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        if not 100 <= args.height <= 2000:
            raise ValueError(f'--height must be 100..2000 px, got {args.height}')
        picture = sample_picture(args.height)
        if out.parent and not out.parent.is_dir():
            raise OSError(f'no folder {out.parent} for {out}')
        jpeg = out.suffix.lower() in ('.jpg', '.jpeg')
        if not cv2.imwrite(str(out), picture, [cv2.IMWRITE_JPEG_QUALITY, 92] if jpeg else []):
            raise OSError(f'cannot write {out} (the extension names the format: .jpg, .png)')
    except (OSError, ValueError) as error:
        print(f'raiv-stereo picture: error: {error}', file=sys.stderr)
        return 1
    print(f'wrote {out} ({picture.shape[1]}x{picture.shape[0]})')
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `picture` subcommand."""
    parser = subparsers.add_parser(
        'picture', formatter_class=HelpFormatter,
        help="write the README's picture: the sample scene's left image, colour depth and "
             'scale bar (no ROS)')
    parser.add_argument('--out', default=README_PICTURE, help='picture file (.jpg or .png)')
    parser.add_argument('--height', type=int, default=390, help='picture height, px')
    parser.set_defaults(func=_run)
