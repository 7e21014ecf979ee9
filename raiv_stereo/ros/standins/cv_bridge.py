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
Stand-in for the `cv_bridge` Python module (vision_opencv), used only without a ROS install.

Implements CvBridge.imgmsg_to_cv2 / cv2_to_imgmsg and CvBridgeError for the plain encodings
(mono8/16, bgr8/16, rgb8/16, bgra8/16, rgba8/16 and the generic 8U..64F C1..C4), with the real
module's step and is_bigendian handling and its cvtColor2 colour/depth conversion rules.
Bayer and YUV encodings and the compressed-image functions are not implemented.
"""

# Behaviour follows ros-perception/vision_opencv cv_bridge/python/cv_bridge/core.py and
# cv_bridge/src/cv_bridge.cpp (Copyright 2011 Willow Garage, Inc. and others, BSD licence).

import re
import sys

import cv2
import numpy as np
import sensor_msgs.msg


class CvBridgeError(TypeError):
    """Raised by CvBridge methods when a conversion is not possible."""


# Colour/mono encodings: name -> (format, numpy dtype, channels), as cv_bridge's getEncoding.
_COLOR_ENCODINGS = {
    'mono8': ('GRAY', 'uint8', 1), 'mono16': ('GRAY', 'uint16', 1),
    'bgr8': ('BGR', 'uint8', 3), 'bgr16': ('BGR', 'uint16', 3),
    'rgb8': ('RGB', 'uint8', 3), 'rgb16': ('RGB', 'uint16', 3),
    'bgra8': ('BGRA', 'uint8', 4), 'bgra16': ('BGRA', 'uint16', 4),
    'rgba8': ('RGBA', 'uint8', 4), 'rgba16': ('RGBA', 'uint16', 4),
}
_CV_DEPTHS = {'8U': 'uint8', '8S': 'int8', '16U': 'uint16', '16S': 'int16', '32S': 'int32',
              '32F': 'float32', '64F': 'float64'}
_NUMPY_TO_CV = {v: k for k, v in _CV_DEPTHS.items()}


def _conversion_code(src_format, dst_format):
    """Return the cv2.COLOR_* code from one colour format to another (None = same format)."""
    if src_format == dst_format:
        return None
    return getattr(cv2, f'COLOR_{src_format}2{dst_format}')


def _encoding_info(encoding):
    """Return (numpy dtype name, channels) of an encoding, as cv_bridge's getCvType."""
    if encoding in _COLOR_ENCODINGS:
        return _COLOR_ENCODINGS[encoding][1:]
    match = re.fullmatch(r'(8U|8S|16U|16S|32S|32F|64F)(?:C([0-9]+))?', encoding)
    if match is None:
        raise CvBridgeError(f'Unrecognized image encoding [{encoding}]')
    return _CV_DEPTHS[match.group(1)], int(match.group(2) or 1)


def _bit_depth(encoding):
    """Return the bits per channel of an encoding."""
    return np.dtype(_encoding_info(encoding)[0]).itemsize * 8


def _cvt_color2(image, src_encoding, dst_encoding):
    """Convert `image` between encodings with the rules of cv_bridge's cvtColor (C++)."""
    if dst_encoding == src_encoding:
        return image.copy()
    src_color = src_encoding in _COLOR_ENCODINGS
    dst_color = dst_encoding in _COLOR_ENCODINGS
    same_channels = _encoding_info(src_encoding)[1] == _encoding_info(dst_encoding)[1]
    codes = [None]
    if not src_color:
        if dst_color:
            raise CvBridgeError(f'[{src_encoding}] is not a color format. but [{dst_encoding}] '
                                'is. The conversion does not make sense')
        if not same_channels:
            raise CvBridgeError(f'[{src_encoding}] and [{dst_encoding}] do not have the same '
                                'number of channel')
    elif not dst_color:
        if not same_channels:
            raise CvBridgeError(f'[{src_encoding}] is a color format but [{dst_encoding}] is '
                                'not so they must have the same OpenCV type, CV_8UC3, CV16UC1 '
                                '....')
    else:
        src_format = _COLOR_ENCODINGS[src_encoding][0]
        dst_format = _COLOR_ENCODINGS[dst_encoding][0]
        codes = [_conversion_code(src_format, dst_format)]
        if src_format != dst_format and _bit_depth(src_encoding) != _bit_depth(dst_encoding):
            codes.append(None)
    dst_dtype = np.dtype(_encoding_info(dst_encoding)[0])
    src_depth, dst_depth = _bit_depth(src_encoding), _bit_depth(dst_encoding)
    result = image
    for code in codes:
        if code is not None:
            result = cv2.cvtColor(result, code)
            continue
        # Same format, maybe another depth: cv::Mat::convertTo (scaled 8 <-> 16 bit, saturating).
        scale = 1.0
        if src_depth == 8 and dst_depth == 16:
            scale = 65535.0 / 255.0
        elif src_depth == 16 and dst_depth == 8:
            scale = 255.0 / 65535.0
        if result.dtype == dst_dtype and scale == 1.0:
            result = result.copy()
        else:
            result = _convert_to(result, dst_dtype, scale)
    return result


def _convert_to(image, dtype, scale):
    """Return image * scale as `dtype`, rounded and saturated like cv::Mat::convertTo."""
    values = image.astype(np.float64) * scale
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype)


class CvBridge:
    """Convert between numpy/OpenCV images and sensor_msgs/Image messages."""

    def imgmsg_to_cv2(self, img_msg, desired_encoding='passthrough'):
        """Return the image of `img_msg`, converted to `desired_encoding` unless passthrough."""
        dtype_name, n_channels = _encoding_info(img_msg.encoding)
        dtype = np.dtype(dtype_name).newbyteorder('>' if img_msg.is_bigendian else '<')
        img_buf = np.asarray(img_msg.data, dtype=dtype) if isinstance(img_msg.data, list) \
            else img_msg.data
        if n_channels == 1:
            im = np.ndarray(shape=(img_msg.height, int(img_msg.step / dtype.itemsize)),
                            dtype=dtype, buffer=img_buf)
            im = np.ascontiguousarray(im[:img_msg.height, :img_msg.width])
        else:
            im = np.ndarray(shape=(img_msg.height,
                                   int(img_msg.step / dtype.itemsize / n_channels), n_channels),
                            dtype=dtype, buffer=img_buf)
            im = np.ascontiguousarray(im[:img_msg.height, :img_msg.width, :])
        # Byte order differs from the host: swap to native (real: byteswap().newbyteorder()).
        if img_msg.is_bigendian == (sys.byteorder == 'little'):
            im = im.byteswap().view(im.dtype.newbyteorder())
        if desired_encoding == 'passthrough':
            return im
        return _cvt_color2(im, img_msg.encoding, desired_encoding)

    def cv2_to_imgmsg(self, cvim, encoding='passthrough', header=None):
        """Return a sensor_msgs/Image of `cvim`; `encoding` must fit its dtype and channels."""
        if not isinstance(cvim, (np.ndarray, np.generic)):
            raise TypeError('Your input type is not a numpy array')
        img_msg = sensor_msgs.msg.Image()
        img_msg.height = cvim.shape[0]
        img_msg.width = cvim.shape[1]
        if header is not None:
            img_msg.header = header
        n_channels = 1 if len(cvim.shape) < 3 else cvim.shape[2]
        cv_type = f'{_NUMPY_TO_CV[cvim.dtype.name]}C{n_channels}'
        if encoding == 'passthrough':
            img_msg.encoding = cv_type
        else:
            img_msg.encoding = encoding
            dtype_name, channels = _encoding_info(encoding)
            if f'{_NUMPY_TO_CV[dtype_name]}C{channels}' != cv_type:
                raise CvBridgeError(f'encoding specified as {encoding}, but image has '
                                    f'incompatible type {cv_type}')
        if cvim.dtype.byteorder == '>':
            img_msg.is_bigendian = True
        img_msg.data.frombytes(cvim.tobytes())
        img_msg.step = len(img_msg.data) // img_msg.height
        return img_msg
