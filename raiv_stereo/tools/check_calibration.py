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

"""`raiv-stereo check-calibration LEFT RIGHT`: the calibration health check on one raw pair."""

from __future__ import annotations

import argparse
import sys

from raiv_stereo.core.calibration import CalibrationError
from raiv_stereo.core.calibration_health import check_alignment, ERROR, OK, WARN
from raiv_stereo.core.pipeline import to_gray
from raiv_stereo.core.rectify import Rectifier
from raiv_stereo.params import camera as camera_params, depth as depth_params
from raiv_stereo.tools import offline
from raiv_stereo.tools.cli import HelpFormatter

EXIT_CODES = {OK: 0, WARN: 3, ERROR: 4}
"""Exit status per verdict; 1 = the inputs could not be checked."""


def _run(args: argparse.Namespace) -> int:
    notes: list[str] = []
    try:
        problems = camera_params.TABLE.option_problems(args, offline.LENS) + \
            depth_params.TABLE.option_problems(args, ('scale',))
        if problems:  # the nodes' words for the same values
            raise offline.OfflineError('; '.join(problems))
        left = offline._read_image(args.left, notes)
        right = offline._read_image(args.right, notes)
        if left.shape[:2] != right.shape[:2]:
            raise offline.OfflineError(
                f'left is {left.shape[1]}x{left.shape[0]}, right is {right.shape[1]}x'
                f'{right.shape[0]}: a stereo pair must match')
        calibration = offline.calibration_for(args, (left.shape[1], left.shape[0]))
        rectifier = Rectifier(calibration, args.scale)
        left_rect, right_rect = rectifier.rectify(to_gray(left), to_gray(right))
    except (offline.OfflineError, CalibrationError, ValueError, OSError) as error:
        print(f'raiv-stereo check-calibration: error: {error}', file=sys.stderr)
        return 1
    P = rectifier.working.left.P
    report = check_alignment(left_rect, right_rect, (float(P[0, 2]), float(P[1, 2])))
    width, height = rectifier.output_size
    print(f'{calibration.description}; checked at {width}x{height} (scale {args.scale:g})')
    for note in notes:
        print(f'note: {note}')
    print(report.text())
    return EXIT_CODES[report.level]


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `check-calibration` subcommand."""
    parser = subparsers.add_parser(
        'check-calibration', formatter_class=HelpFormatter,
        help='measure how far apart the rows of a rectified pair are (calibration health)',
        description='Rectify one raw stereo pair with the calibration, match sparse features '
                    'and report the vertical offset of the matches (median, spread), the '
                    'vertical shift and roll of the right image, and a verdict. Exit status: '
                    '0 OK, 3 WARN, 4 ERROR, 1 when the inputs cannot be checked.')
    parser.add_argument('left', help='left raw image file')
    parser.add_argument('right', help='right raw image file')
    parser.add_argument('--calibration', nargs='+', metavar='FILE',
                        help='LEFT.yaml RIGHT.yaml (camera_info pair) or one OpenCV stereo file '
                             '(YAML/XML/JSON); default the RAiV nominal geometry')
    depth_params.TABLE.add_options(parser, ('scale',),
                                   notes={'scale': '(the verdict is in pixels of this size)'})
    parser.add_argument('--rectified', action='store_true',
                        help='the inputs are already rectified (give --focal-px)')
    parser.add_argument('--focal-px', type=float, help='focal length of rectified inputs')
    camera_params.TABLE.add_options(parser, ('baseline_mm', 'focal_length_mm', 'pixel_size_um'),
                                    notes={'baseline_mm': '(also of --rectified inputs)'})
    parser.set_defaults(func=_run)
