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

"""`raiv-stereo depth --bag IN --out OUT`: the pipeline over a recorded stereo bag, no ROS."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

import numpy as np
from raiv_stereo.core.calibration import CalibrationError, CameraModel
from raiv_stereo.core.calibration_io import load_calibration
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.params import depth as depth_params
from raiv_stereo.sources.rosbag_io import bag_storage, BagError, DepthBagWriter, StereoBagReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the --bag options to the `depth` subcommand."""
    group = parser.add_argument_group(
        'bags', 'with --bag IN: run over a recorded rosbag2 stereo bag (SQLite3 or MCAP) and '
        'write depth/image_rect, disparity and depth/camera_info, stamped as the input, to the '
        'new rosbag2 folder --out')
    group.add_argument('--bag', metavar='IN', help='input rosbag2 folder (instead of LEFT RIGHT)')
    for side in ('left', 'right'):
        group.add_argument(f'--{side}-topic', metavar='TOPIC',
                           help=f'{side} image topic (Image or CompressedImage); default: the '
                                f"one with '{side}' in its name, image_raw first")
        group.add_argument(f'--{side}-info-topic', metavar='TOPIC',
                           help=f'{side} camera_info topic; default: the one beside the image')
    group.add_argument('--sync-slop-s', type=float, default=0.0,
                       help='pair left/right images whose stamps differ by up to this; 0 = '
                            'equal stamps only')
    depth_format = depth_params.BY_NAME['depth_format']
    group.add_argument('--depth-format', default=depth_format.default,
                       choices=depth_format.choices, help='depth encoding (REP 118)')
    group.add_argument('--storage', choices=('sqlite3', 'mcap'),
                       help="output bag storage; default the input's")


class Progress:
    """A progress bar on a terminal, a line per tenth otherwise (logs stay short)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        """Start the clock; `total` may be 0 when unknown; `stream` defaults to stderr."""
        self.total = total
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self._tty = self.stream.isatty()
        self._last_tenth = -1

    def text(self) -> str:
        """Return the current progress as one line."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = '#' * int(share * 20) + '-' * (20 - int(share * 20))
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            return (f'[{bar}] {self.done}/{self.total} pairs ({100 * share:.0f} %), '
                    f'{rate:.1f} pairs/s, {eta:.0f} s left')
        return f'{self.done} pairs, {rate:.1f} pairs/s'

    def step(self) -> None:
        """Count one pair and show it."""
        self.done += 1
        if self._tty:
            self.stream.write('\r' + self.text())
            self.stream.flush()
            return
        tenth = int(10 * self.done / self.total) if self.total else self.done // 50
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            print(self.text(), file=self.stream)

    def finish(self) -> None:
        """End the bar's line."""
        if self._tty and self.done:
            self.stream.write('\n')


def run(args: argparse.Namespace) -> int:
    """Run the pipeline over every pair of the bag; one line per problem, exit code 1."""
    # Deferred: offline imports this module at its top for the depth command's bag options.
    from raiv_stereo.tools.offline import matcher_settings_from_options

    name = 'raiv-stereo depth'
    writer = None
    progress = None
    try:
        if args.bag is None:
            raise BagError('give LEFT RIGHT image files, or --bag IN for a recorded bag')
        if args.left is not None or args.right is not None:
            raise BagError('give either LEFT RIGHT image files or --bag, not both')
        if args.rectified:
            raise BagError('--rectified is for image files; a bag brings its camera_info (or '
                           'give --calibration)')
        if args.scale is None:
            args.scale = depth_params.BY_NAME['scale'].default
        if not args.sync_slop_s >= 0:
            raise BagError(f'--sync-slop-s must be 0 or more, got {args.sync_slop_s:g}')
        settings = matcher_settings_from_options(args)
        calibration = load_calibration(args.calibration) if args.calibration else None
        reader = StereoBagReader(args.bag, slop_s=args.sync_slop_s, calibration=calibration,
                                 left_image=args.left_topic, right_image=args.right_topic,
                                 left_info=args.left_info_topic,
                                 right_info=args.right_info_topic)
        writer = DepthBagWriter(args.out, reader.topics.namespace,
                                args.storage or bag_storage(args.bag), args.depth_format)
        print(f'{args.bag}: {", ".join(t for t in reader.topics.as_tuple() if t)} -> {args.out}: '
              f'{", ".join(writer.topics.values())}')
        progress = Progress(reader.expected_pairs)
        pipeline = None
        valid = []
        for pair in reader.pairs():
            if pipeline is None:
                pipeline = StereoPipeline(pair.calibration, args.scale, settings)
            else:
                pipeline.reconfigure(calibration=pair.calibration)
            result = pipeline.process(pair.left, pair.right,
                                      mask_out_of_range=args.mask_out_of_range)
            working = pipeline.working
            height, width = result.depth_m.shape
            K = working.left.P[:3, :3].copy()
            camera = CameraModel(width, height, K, np.zeros(5), np.eye(3),
                                 np.hstack([K, np.zeros((3, 1))]))
            matcher = pipeline.matcher
            writer.write(pair.stamp_ns, pair.bag_time_ns, pair.frame_id, result.depth_m,
                         result.disparity_px, camera,
                         (matcher.min_disparity, matcher.max_disparity),
                         matcher.valid_window(width, height), working.baseline_m)
            valid.append(result.valid_share())
            progress.step()
        progress.finish()
        writer.close()
        writer = None
    except (BagError, CalibrationError, ValueError, OSError) as error:
        if progress is not None:
            progress.finish()
        if writer is not None:
            writer.close()
            print(f'{name}: error: {error} (the {writer.written} frames before it are in '
                  f'{args.out})', file=sys.stderr)
        else:
            print(f'{name}: error: {error}', file=sys.stderr)
        return 1
    if not progress.done:
        print(f'{name}: error: no synchronized pair in {args.bag} ({reader.unpaired} images '
              'without a partner of equal stamp; try --sync-slop-s)', file=sys.stderr)
        return 1
    elapsed = time.monotonic() - progress.started
    print(f'wrote {progress.done} frames to {args.out} in {elapsed:.1f} s '
          f'({progress.done / max(elapsed, 1e-6):.1f} pairs/s), valid depth '
          f'{100 * float(np.mean(valid)):.1f} % of pixels')
    if reader.unpaired:
        print(f'note: {reader.unpaired} images had no partner of the other side (left and '
              'right stamps must be equal, or within --sync-slop-s)')
    for line in reader.skipped[:5]:
        print(f'note: skipped {line}')
    if len(reader.skipped) > 5:
        print(f'note: skipped {len(reader.skipped) - 5} more pairs')
    return 0
