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

"""Image-file source: left/right pairs from glob patterns, directories, single files or a list."""

from __future__ import annotations

import glob
import os
from pathlib import Path
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

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.pgm', '.ppm', '.webp')
"""File name endings taken from a directory (case-insensitive)."""


def expand_images(spec: str, side: str) -> list[str]:
    """Return the sorted files named by `spec`: a glob pattern, a directory or a single file."""
    spec = os.path.expanduser(str(spec).strip())
    if not spec:
        raise SourceError(f'images.{side} is empty: give a glob pattern, a directory or a file '
                          '(or images.list)')
    if os.path.isdir(spec):
        files = [str(p) for p in Path(spec).iterdir()
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise SourceError(f'images.{side}: directory {spec} holds no image files '
                              f'({", ".join(IMAGE_SUFFIXES)})')
        return sorted(files)
    if os.path.isfile(spec):
        return [spec]
    if glob.has_magic(spec):
        files = sorted(p for p in glob.glob(spec) if os.path.isfile(p))
        if not files:
            raise SourceError(f'images.{side}: pattern {spec} matches no files; check the path')
        return files
    raise SourceError(f'images.{side}: {spec} does not exist; give an existing file, directory '
                      'or glob pattern')


def read_list_file(path: str) -> list[tuple[str, str]]:
    """Return the (left, right) pairs of a list file: one 'left right' per line, '#' comments."""
    path = os.path.expanduser(str(path))
    try:
        with open(path, encoding='utf-8') as stream:
            lines = stream.read().splitlines()
    except OSError as error:
        raise SourceError(f'cannot read images.list {path}: {error.strerror}') from None
    base = os.path.dirname(os.path.abspath(path))
    pairs = []
    for number, line in enumerate(lines, start=1):
        text = line.split('#', 1)[0].strip()
        if not text:
            continue
        fields = text.split()
        if len(fields) != 2:
            raise SourceError(f'{path}:{number}: expected "left right" (two paths), got {line!r}')
        left, right = (os.path.join(base, os.path.expanduser(f)) for f in fields)
        for name in (left, right):
            if not os.path.isfile(name):
                raise SourceError(f'{path}:{number}: image {name} does not exist')
        pairs.append((left, right))
    if not pairs:
        raise SourceError(f'images.list {path} lists no pairs (one "left right" per line)')
    return pairs


def read_image(path: str) -> np.ndarray:
    """Read one 8-bit image as stored (gray or BGR); SourceError when it cannot be decoded."""
    image = cv2.imread(path, cv2.IMREAD_ANYCOLOR)
    if image is None or image.size == 0:
        reason = 'does not exist' if not os.path.exists(path) else 'is not an image OpenCV reads'
        raise SourceError(f'cannot read image {path}: it {reason}; replace or remove it')
    return image


def check_pair(left: np.ndarray, right: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the pair with matching channels; raise SourceError when the sizes differ."""
    if left.shape[:2] != right.shape[:2]:
        raise SourceError(
            f'{what}: left is {left.shape[1]}x{left.shape[0]} but right is '
            f'{right.shape[1]}x{right.shape[0]}; both cameras must have the same size')
    if left.ndim != right.ndim:
        left, right = (cv2.cvtColor(im, cv2.COLOR_GRAY2BGR) if im.ndim == 2 else im
                       for im in (left, right))
    return left, right


class ImageSource(FrameSource):
    """Plays image pairs in sorted order, once (then EndOfSource) or looped."""

    kind = 'images'
    options = (
        ParamSpec('left', '', 'left image file, directory or glob pattern; ' + FILE_OPTION),
        ParamSpec('right', '', 'right image file, directory or glob pattern; ' + FILE_OPTION),
        ParamSpec('list', '', 'text file of "left right" path pairs, one per line; '
                  + FILE_OPTION),
    )

    @classmethod
    def option_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """Require either the left/right pair or the list file."""
        return pair_or_alternative(cls.kind, values, 'list', 'files, directories or glob '
                                   'patterns', 'a text file of pairs')

    def __init__(self, pairs: list[tuple[str, str]], loop: bool = True) -> None:
        """Keep the pair list; files are read one pair per `read`."""
        if not pairs:
            raise SourceError('no image pairs to play')
        self.pairs = pairs
        self.loop = bool(loop)
        self._index = 0
        self._sequence = 0

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> ImageSource:
        """Build from images.list, or images.left + images.right (paired in sorted order)."""
        loop = bool(options.get('loop', LOOP))
        list_file = options['list'].strip()
        if list_file:
            return cls(read_list_file(list_file), loop)
        left_spec, right_spec = options['left'], options['right']
        lefts = expand_images(left_spec, 'left')
        rights = expand_images(right_spec, 'right')
        if len(lefts) != len(rights):
            raise SourceError(
                f'images.left {left_spec} gives {len(lefts)} files but images.right '
                f'{right_spec} gives {len(rights)}; give the same number of left and right images')
        return cls(list(zip(lefts, rights, strict=True)), loop)

    def read(self) -> StereoFrame | None:
        """Read the next pair (an unreadable one is skipped); at the end loop or EndOfSource."""
        if self._index >= len(self.pairs):
            if not self.loop:
                raise EndOfSource(f'played all {len(self.pairs)} image pairs')
            self._index = 0
        left_path, right_path = self.pairs[self._index]
        self._index += 1  # first: an unreadable pair is reported and passed, not retried
        left, right = check_pair(read_image(left_path), read_image(right_path),
                                 f'{left_path} / {right_path}')
        frame = StereoFrame(left, right, capture_time_ns=None, sequence=self._sequence)
        self._sequence += 1
        return frame
