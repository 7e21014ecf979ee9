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

"""Video-file source: two synchronized files (left, right) or one side-by-side file."""

from __future__ import annotations

import os
from typing import Any, Mapping

import cv2
import numpy as np
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.params.spec import ParamSpec
from raiv_stereo.sources import (
    EndOfSource,
    FILE_OPTION,
    FrameSource,
    LOOP,
    pair_or_alternative,
    SourceError,
    StereoFrame,
)
from raiv_stereo.sources.images import check_pair


def open_video(path: str, option: str) -> cv2.VideoCapture:
    """Open a video file; raise SourceError naming the file when it is missing or unreadable."""
    if not os.path.isfile(path):
        raise SourceError(f'{option}: video file {path} does not exist; check the path')
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f'{option}: cannot open video {path} (not a video OpenCV can decode)')
    return capture


def split_side_by_side(image: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Split a side-by-side frame into left and right halves (an odd last column is dropped)."""
    half = image.shape[1] // 2
    if half == 0:
        raise SourceError(f'{what}: frame is {image.shape[1]} px wide, too narrow to split')
    return image[:, :half].copy(), image[:, half:2 * half].copy()


class VideoSource(FrameSource):
    """Plays a pair of videos (or one side-by-side video) once, or looped by reopening."""

    kind = 'video'
    options = (
        ParamSpec('left', '', 'left video file; ' + FILE_OPTION),
        ParamSpec('right', '', 'right video file; ' + FILE_OPTION),
        ParamSpec('side_by_side', '', 'one side-by-side video (left half | right half); '
                  + FILE_OPTION),
    )

    @classmethod
    def option_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """Require the left/right pair or the side-by-side file, one of the two."""
        return pair_or_alternative(cls.kind, values, 'side_by_side', 'two files',
                                   'one file, left half | right half')

    def __init__(self, paths: tuple[str, ...], loop: bool = True) -> None:
        """Open the files: (left, right) or (side_by_side,)."""
        self.paths = paths
        self.loop = bool(loop)
        self._options = (('video.left', 'video.right') if len(paths) == 2
                         else ('video.side_by_side',))
        self._captures: list[cv2.VideoCapture] = []
        self._sequence = 0
        self._frames_this_pass = 0
        self._open()

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> VideoSource:
        """Build from video.side_by_side, or video.left + video.right."""
        loop = bool(options.get('loop', LOOP))
        side_by_side = options['side_by_side'].strip()
        left, right = options['left'].strip(), options['right'].strip()
        if side_by_side:
            return cls((os.path.expanduser(side_by_side),), loop)
        return cls((os.path.expanduser(left), os.path.expanduser(right)), loop)

    def _open(self) -> None:
        """(Re)open every file from its first frame."""
        self._release()
        try:
            for path, option in zip(self.paths, self._options, strict=True):
                self._captures.append(open_video(path, option))
        except SourceError:
            self._release()
            raise
        self._frames_this_pass = 0

    def _release(self) -> None:
        """Release open captures."""
        for capture in self._captures:
            capture.release()
        self._captures = []

    def _grab(self) -> list[np.ndarray] | None:
        """Return one frame per file, or None when any file has ended."""
        frames = []
        for capture in self._captures:
            ok, image = capture.read()
            if not ok or image is None:
                return None
            frames.append(image)
        return frames

    def read(self) -> StereoFrame | None:
        """Decode the next pair; at the end reopen (loop) or raise EndOfSource."""
        if not self._captures:
            if not self.loop:
                raise EndOfSource(f'video {", ".join(self.paths)} ended')
            self._open()
        frames = self._grab()
        if frames is None:
            if self._frames_this_pass == 0:
                raise SourceError(f'video {", ".join(self.paths)} has no decodable frames')
            if not self.loop:
                self._release()
                raise EndOfSource(f'video {", ".join(self.paths)} ended after '
                                  f'{self._frames_this_pass} frames')
            self._open()
            frames = self._grab()
            if frames is None:
                raise SourceError(f'video {", ".join(self.paths)} cannot be replayed')
        what = ' / '.join(self.paths)
        if len(frames) == 1:
            left, right = split_side_by_side(frames[0], what)
        else:
            left, right = check_pair(frames[0], frames[1], what)
        self._frames_this_pass += 1
        frame = StereoFrame(left, right, capture_time_ns=None, sequence=self._sequence)
        self._sequence += 1
        return frame

    def close(self) -> None:
        """Release the files."""
        self._release()
