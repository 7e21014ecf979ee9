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

"""Bag source: replays the stereo pairs of a rosbag2 bag at the rate they were recorded."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Mapping

from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.params.spec import ParamSpec
from raiv_stereo.sources import EndOfSource, FrameSource, LOOP, SourceError, StereoFrame
from raiv_stereo.sources.rosbag_io import BagError, BagPair, StereoBagReader


class BagSource(FrameSource):
    """
    Plays a recorded stereo bag in real time: each pair when its recorded delay has passed.

    The bag's camera_info is the source's calibration (as a device's own). Stamps keep the
    recorded intervals, moved to now (capture_time_ns = start + recorded offset), so live
    nodes and TF see current times; with `loop` the bag starts again after its last pair.
    """

    kind = 'bag'
    pushed = True  # polled fast: each pair goes out at its recorded time
    options = (
        ParamSpec('path', '', 'rosbag2 folder (SQLite3 or MCAP) to replay at its recorded rate, '
                  'with its camera_info as the calibration; path; empty = not used'),
        ParamSpec('topics', '', 'left image, right image, left camera_info, right camera_info '
                  "topics, comma-separated; empty = found by name ('left'/'right', image_raw "
                  'first)'),
    )

    @classmethod
    def option_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """Require a bag folder, and four topics or none."""
        problems = []
        if not values['path'].strip():
            problems.append("source 'bag' needs bag.path (a rosbag2 folder)")
        topics = [t.strip() for t in values['topics'].split(',') if t.strip()]
        if topics and len(topics) != 4:
            problems.append('bag.topics needs four topics, comma-separated: left image, right '
                            f'image, left camera_info, right camera_info; got {topics}')
        return problems

    def __init__(self, reader: StereoBagReader, loop: bool = False,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        """Read the first pair (its camera_info is the calibration); SourceError if none."""
        self._reader = reader
        self.loop = bool(loop)
        self._clock_ns = clock_ns
        self._pairs: Iterator[BagPair] = iter(())
        self._next: BagPair | None = None
        self._sequence = 0
        self._played_in_pass = 0
        self._first_bag_time_ns = 0
        self._start_ns = 0
        self._offset_ns = 0
        self._last_stamp_offset_ns = 0
        self._start_pass(first=True)
        if self._next is None:
            raise SourceError(f'bag {reader.path} holds no synchronized stereo pair on '
                              f'{", ".join(reader.topics.as_tuple())}')
        self.calibration = self._next.calibration

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> BagSource:
        """Build from bag.path and bag.topics (four topics, comma-separated; empty = by name)."""
        path = options['path'].strip()
        topics = [t.strip() for t in options['topics'].split(',') if t.strip()]
        names = dict(zip(('left_image', 'right_image', 'left_info', 'right_info'), topics,
                         strict=False))
        try:
            reader = StereoBagReader(path, **names)
        except BagError as error:
            raise SourceError(str(error)) from None
        return cls(reader, bool(options.get('loop', LOOP)))

    def _start_pass(self, first: bool = False) -> None:
        """Open the bag's pairs again and read the first one."""
        self._pairs = self._reader.pairs()
        self._next = self._fetch()
        if self._next is None:
            return
        if first:
            self._start_ns = self._clock_ns()
        else:
            # The next pass follows the last pair by one recorded frame interval.
            self._start_ns += self._last_stamp_offset_ns + self._period_ns
        self._first_bag_time_ns = self._next.bag_time_ns
        self._first_stamp_ns = self._next.stamp_ns
        self._played_in_pass = 0

    def _fetch(self) -> BagPair | None:
        try:
            return next(self._pairs, None)
        except BagError as error:
            raise SourceError(str(error)) from None

    @property
    def _period_ns(self) -> int:
        """Return the mean recorded interval between pairs of the last pass (1 pair: 0.1 s)."""
        if self._played_in_pass < 2:
            return 100_000_000
        return max(self._last_stamp_offset_ns // (self._played_in_pass - 1), 1)

    def read(self) -> StereoFrame | None:
        """Return the next pair once its recorded time has come; None until then."""
        if self._next is None:
            if not self.loop or self._played_in_pass == 0:
                raise EndOfSource(f'played the {self._sequence} pairs of {self._reader.path}')
            self._start_pass()
            if self._next is None:
                raise EndOfSource(f'bag {self._reader.path} has no more pairs')
        due_ns = self._start_ns + (self._next.bag_time_ns - self._first_bag_time_ns)
        if self._clock_ns() < due_ns:
            return None
        pair, self._next = self._next, self._fetch()
        stamp_offset = pair.stamp_ns - self._first_stamp_ns
        self._last_stamp_offset_ns = stamp_offset
        self._played_in_pass += 1
        self.calibration = pair.calibration
        frame = StereoFrame(pair.left, pair.right, capture_time_ns=self._start_ns + stamp_offset,
                            sequence=self._sequence)
        self._sequence += 1
        return frame
