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
The size of a JPEG or PNG image, read from its header before anything is decoded.

A decoder allocates the whole image its header announces, so the announced size of untrusted
bytes (network, DDS, bag files) is checked against a limit first. The reader is strict: a layout
it does not follow to the frame header is refused, so an image it accepts is one whose size the
decoder reads from the same place.
"""

from __future__ import annotations

from dataclasses import dataclass
import struct
from typing import Any

import numpy as np

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
JPEG_SIGNATURE = b'\xff\xd8\xff'  # start of image, then the first marker's 0xFF
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # colour type -> channels once decoded
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0..SOF15
_JPEG_SEGMENTS_BEFORE_FRAME = (frozenset(range(0xE0, 0xF0))  # APP0..APP15
                               | {0xC4, 0xCC, 0xDB, 0xDD, 0xFE})  # DHT, DAC, DQT, DRI, COM
_MAX_JPEG_STEPS = 4096  # segments and fill bytes walked before the frame header


class ImageHeaderError(ValueError):
    """Bytes whose image size cannot be read, or a size above the caller's limit."""


class ImageTooLarge(ImageHeaderError):
    """An image whose header announces more pixels than the caller accepts."""


@dataclass(frozen=True)
class ImageHeader:
    """What an image header announces: its kind (format), size and channel count."""

    kind: str  # 'jpeg' or 'png'
    width_px: int
    height_px: int
    channels: int

    @property
    def pixels(self) -> int:
        """Return width x height."""
        return self.width_px * self.height_px


def _byte_view(data: Any) -> memoryview:
    """Return the bytes of a bytes-like object or uint8 array without copying."""
    try:
        return memoryview(data).cast('B')
    except (TypeError, ValueError):
        return memoryview(np.ascontiguousarray(np.asarray(data, dtype=np.uint8)).reshape(-1))


def _png_header(data: memoryview) -> ImageHeader:
    """Read a PNG's IHDR, which the format requires to be the first chunk."""
    if data.nbytes < 33:
        raise ImageHeaderError(f'PNG of {data.nbytes} bytes is shorter than its header')
    length, kind = struct.unpack_from('>I4s', data, 8)
    if kind != b'IHDR' or length != 13:
        raise ImageHeaderError('PNG does not start with its 13-byte IHDR chunk')
    width, height, depth, colour = struct.unpack_from('>IIBB', data, 16)
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ImageHeaderError(f'PNG has colour type {colour} and bit depth {depth}, which '
                               'no PNG image has')
    if width == 0 or height == 0:
        raise ImageHeaderError(f'PNG announces an empty {width}x{height} image')
    return ImageHeader('png', width, height, _PNG_CHANNELS[colour])


def _jpeg_header(data: memoryview) -> ImageHeader:
    """Walk a JPEG's marker segments from the start of image to its frame header (SOFn)."""
    pos = 2
    for _ in range(_MAX_JPEG_STEPS):
        if pos + 2 > data.nbytes:
            break
        if data[pos] != 0xFF:
            raise ImageHeaderError(f'JPEG has byte 0x{data[pos]:02x} at offset {pos} where a '
                                   'marker belongs (corrupt before its frame header)')
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker not in _JPEG_FRAME_MARKERS and marker not in _JPEG_SEGMENTS_BEFORE_FRAME:
            raise ImageHeaderError(f'JPEG has marker 0x{marker:02x} before its frame header')
        if pos + 4 > data.nbytes:
            break
        (length,) = struct.unpack_from('>H', data, pos + 2)
        if length < 2:
            raise ImageHeaderError(f'JPEG segment 0x{marker:02x} at offset {pos} has the '
                                   f'impossible length {length}')
        if marker in _JPEG_FRAME_MARKERS:
            if length < 8 or pos + 10 > data.nbytes:
                break
            height, width, channels = struct.unpack_from('>HHB', data, pos + 5)
            if width == 0 or height == 0 or channels == 0:
                raise ImageHeaderError(f'JPEG frame header announces {width}x{height} with '
                                       f'{channels} components (not a decodable image)')
            return ImageHeader('jpeg', width, height, channels)
        pos += 2 + length
    else:
        raise ImageHeaderError(f'JPEG has more than {_MAX_JPEG_STEPS} segments before its '
                               'frame header')
    raise ImageHeaderError(f'JPEG of {data.nbytes} bytes ends before its frame header (SOF)')


def read_image_header(data: Any) -> ImageHeader:
    """Return the format, size and channels a JPEG or PNG announces; ImageHeaderError if not."""
    view = _byte_view(data)
    if bytes(view[:8]) == PNG_SIGNATURE:
        return _png_header(view)
    if bytes(view[:3]) == JPEG_SIGNATURE:
        return _jpeg_header(view)
    raise ImageHeaderError(f'{view.nbytes} bytes that are neither JPEG nor PNG '
                           f'(they start {bytes(view[:8]).hex(" ")})')


def checked_image_header(data: Any, max_pixels: int) -> ImageHeader:
    """Return read_image_header(data) if the image has at most max_pixels pixels, else raise."""
    header = read_image_header(data)
    if header.pixels > max_pixels:
        raise ImageTooLarge(
            f'{header.kind.upper()} announces {header.width_px}x{header.height_px} '
            f'({header.pixels} pixels), above the limit of {max_pixels} pixels per image; it '
            'is not decoded (send smaller images)')
    return header


__all__ = ['ImageHeader', 'ImageHeaderError', 'ImageTooLarge', 'checked_image_header',
           'read_image_header']
