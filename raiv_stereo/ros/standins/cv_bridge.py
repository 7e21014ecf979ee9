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
The image bridge raiv_stereo uses when ROS's cv_bridge is not installed.

It offers the two calls the package makes, CvBridge().imgmsg_to_cv2 and cv2_to_imgmsg, and
CvBridgeError, for the mono/colour encodings of 8 and 16 bits and the OpenCV type names
(8U..64F with 1 to 4 channels). Pixels come back in native byte order whatever the message's
is_bigendian, rows padded by any step are read correctly, and a message whose sizes do not add
up is refused. Between encodings it follows the documented cv_bridge rules: colour layouts
convert into each other, 8-bit and 16-bit values scale by 257, and nothing else changes the
channel count. Bayer and YUV images are not read.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import sys
from typing import Any

import cv2
import numpy as np
from sensor_msgs.msg import Image


class CvBridgeError(TypeError):
    """A message or array this bridge cannot convert; the text says which and why."""


@dataclass(frozen=True)
class _PixelFormat:
    """How one encoding lays out a pixel: sample type, samples per pixel, colour order."""

    dtype: np.dtype
    channels: int
    colours: str  # 'GRAY', 'BGR', 'RGB', 'BGRA', 'RGBA'; '' for a bare OpenCV type

    @property
    def bits(self) -> int:
        """Return the bits of one sample."""
        return self.dtype.itemsize * 8


_COLOUR_CHANNELS = {'mono': ('GRAY', 1), 'bgr': ('BGR', 3), 'rgb': ('RGB', 3),
                    'bgra': ('BGRA', 4), 'rgba': ('RGBA', 4)}
_SAMPLE_TYPES = {'8U': np.uint8, '8S': np.int8, '16U': np.uint16, '16S': np.int16,
                 '32S': np.int32, '32F': np.float32, '64F': np.float64}
_TYPE_OF_DTYPE = {np.dtype(dtype): name for name, dtype in _SAMPLE_TYPES.items()}
_COLOUR_NAME = re.compile(r'(mono|bgra|rgba|bgr|rgb)(8|16)')
_TYPE_NAME = re.compile(r'(8U|8S|16U|16S|32S|32F|64F)(?:C([1-4]))?')


def _pixel_format(encoding: str) -> _PixelFormat:
    """Return the layout an encoding names, or raise CvBridgeError for one not handled."""
    named = _COLOUR_NAME.fullmatch(encoding)
    if named:
        colours, channels = _COLOUR_CHANNELS[named.group(1)]
        dtype = np.uint8 if named.group(2) == '8' else np.uint16
        return _PixelFormat(np.dtype(dtype), channels, colours)
    typed = _TYPE_NAME.fullmatch(encoding)
    if typed:
        return _PixelFormat(np.dtype(_SAMPLE_TYPES[typed.group(1)]), int(typed.group(2) or 1),
                            '')
    raise CvBridgeError(f"image encoding '{encoding}' is not handled by raiv_stereo's bridge "
                        '(mono8/16, bgr8/16, rgb8/16, bgra8/16, rgba8/16, or 8U..64F with 1-4 '
                        'channels, e.g. 32FC1)')


def _message_bytes(data: Any) -> np.ndarray:
    """Return a message's data field as a flat uint8 array (no copy for a buffer)."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _read_pixels(msg: Image, layout: _PixelFormat) -> np.ndarray:
    """Return the pixels of a message as a new native-order array, checking every size."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = width * layout.channels * layout.dtype.itemsize
    raw = _message_bytes(msg.data)
    if height < 0 or width < 0 or step < row_bytes:
        raise CvBridgeError(f'a {width}x{height} {msg.encoding} image needs rows of at least '
                            f'{row_bytes} bytes, but step is {step}')
    if raw.size < height * step:
        raise CvBridgeError(f'a {width}x{height} {msg.encoding} image with step {step} needs '
                            f'{height * step} bytes of data, the message has {raw.size}')
    rows = raw[:height * step].reshape(height, step)[:, :row_bytes]
    wire_order = '>' if msg.is_bigendian else '<'
    samples = np.ascontiguousarray(rows).view(layout.dtype.newbyteorder(wire_order))
    pixels = samples.astype(layout.dtype.newbyteorder('='))
    if layout.channels == 1:
        return pixels.reshape(height, width)
    return pixels.reshape(height, width, layout.channels)


def _rescaled(image: np.ndarray, source: _PixelFormat, target: _PixelFormat) -> np.ndarray:
    """Return image in the target sample type: 8 <-> 16 bits scale by 257, others keep values."""
    factor = {(8, 16): 65535.0 / 255.0, (16, 8): 255.0 / 65535.0}.get(
        (source.bits, target.bits), 1.0)
    if factor == 1.0 and image.dtype == target.dtype:
        return image
    values = image.astype(np.float64) * factor
    if np.issubdtype(target.dtype, np.integer):
        limits = np.iinfo(target.dtype)
        values = np.clip(np.rint(values), limits.min, limits.max)
    return values.astype(target.dtype)


def _converted(image: np.ndarray, source_name: str, target_name: str) -> np.ndarray:
    """Return image, read as source_name, in target_name (channel order first, then depth)."""
    source, target = _pixel_format(source_name), _pixel_format(target_name)
    if source_name == target_name:
        return image.copy()
    if not source.colours and target.colours:
        raise CvBridgeError(f"'{source_name}' carries no colour order, so it cannot become the "
                            f"colour encoding '{target_name}'")
    if source.colours and target.colours:
        if source.colours != target.colours:
            image = cv2.cvtColor(image, getattr(cv2, f'COLOR_{source.colours}2{target.colours}'))
    elif source.channels != target.channels:
        raise CvBridgeError(f"'{source_name}' has {source.channels} channel(s) and "
                            f"'{target_name}' {target.channels}; only colour encodings convert "
                            'between channel counts')
    result = _rescaled(image, source, target)
    return result.copy() if result is image else result


class CvBridge:
    """Converts sensor_msgs/Image messages to numpy arrays and back."""

    def imgmsg_to_cv2(self, img_msg: Image, desired_encoding: str = 'passthrough') -> np.ndarray:
        """Return the message's pixels as a new array, in desired_encoding unless passthrough."""
        pixels = _read_pixels(img_msg, _pixel_format(img_msg.encoding))
        if desired_encoding == 'passthrough':
            return pixels
        return _converted(pixels, img_msg.encoding, desired_encoding)

    def cv2_to_imgmsg(self, cvim: np.ndarray, encoding: str = 'passthrough',
                      header: Any = None) -> Image:
        """Return an Image holding a copy of cvim; a named encoding must fit its type."""
        if not isinstance(cvim, np.ndarray):
            raise TypeError(f'cv2_to_imgmsg takes a numpy array, not a {type(cvim).__name__}')
        if cvim.ndim not in (2, 3):
            raise CvBridgeError(f'an image array has 2 or 3 dimensions, this one {cvim.ndim}')
        channels = 1 if cvim.ndim == 2 else cvim.shape[2]
        sample = _TYPE_OF_DTYPE.get(cvim.dtype.newbyteorder('='))
        if sample is None or not 1 <= channels <= 4:
            raise CvBridgeError(f'a {cvim.dtype} array with {channels} channel(s) has no image '
                                'encoding')
        own_type = f'{sample}C{channels}'
        if encoding == 'passthrough':
            encoding = own_type
        layout = _pixel_format(encoding)
        if layout.dtype != cvim.dtype.newbyteorder('=') or layout.channels != channels:
            raise CvBridgeError(f"the array is {own_type} but encoding '{encoding}' is "
                                f'{_TYPE_OF_DTYPE[layout.dtype]}C{layout.channels}')
        big_endian = cvim.dtype.byteorder == '>' or \
            (cvim.dtype.byteorder == '=' and sys.byteorder == 'big')
        packed = np.ascontiguousarray(cvim)
        msg = Image(height=packed.shape[0], width=packed.shape[1], encoding=encoding,
                    is_bigendian=big_endian,
                    step=packed.shape[1] * channels * packed.dtype.itemsize)
        if header is not None:
            msg.header = header
        msg.data.frombytes(packed.reshape(-1).view(np.uint8))
        return msg


__all__ = ['CvBridge', 'CvBridgeError']
