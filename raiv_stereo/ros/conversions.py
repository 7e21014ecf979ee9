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
Conversions between numpy / the stereo core and ROS messages (no node code here).

Images are numpy views of the message data where the layout allows (cv_bridge, the real one or
its stand-in, for the other conversions); CameraInfo,
DisparityImage and PointCloud2 follow the ROS conventions (REP 103 optical frame, REP 118
depth, stereo_image_proc's DisparityImage) so standard ROS consumers read them unchanged.
"""

from __future__ import annotations

import array
import re
import sys
from typing import Any, Sequence

from builtin_interfaces.msg import Time
import cv2
from geometry_msgs.msg import Quaternion, TransformStamped, Vector3
import numpy as np
from raiv_stereo.core.calibration import (
    CalibrationError,
    CameraModel,
    same_aspect,
    StereoCalibration,
)
from raiv_stereo.core.tf_frames import StaticTransform
from raiv_stereo.params import depth as depth_params
from raiv_stereo.ros.compat import CvBridge, CvBridgeError
from raiv_stereo.sources.image_header import (
    checked_image_header,
    ImageHeaderError,
    ImageTooLarge,
)
from sensor_msgs.msg import (CameraInfo, CompressedImage, Image, PointCloud2, PointField,
                             RegionOfInterest)
from stereo_msgs.msg import DisparityImage

# sensor_msgs/DisparityImage.delta_d of OpenCV's SGBM (fixed point, 4 fractional bits).
DISPARITY_DELTA_D = 1.0 / 16.0
_NS_PER_S = 1_000_000_000

# Encodings msg_to_image accepts: name -> (numpy dtype, channels); plus the generic 8U..64F Cn.
_NAMED_ENCODINGS = {
    'mono8': ('uint8', 1), 'mono16': ('uint16', 1),
    'bgr8': ('uint8', 3), 'rgb8': ('uint8', 3), 'bgra8': ('uint8', 4), 'rgba8': ('uint8', 4),
    'bgr16': ('uint16', 3), 'rgb16': ('uint16', 3), 'bgra16': ('uint16', 4),
    'rgba16': ('uint16', 4),
}
_GENERIC_DEPTHS = {'8U': 'uint8', '8S': 'int8', '16U': 'uint16', '16S': 'int16',
                   '32S': 'int32', '32F': 'float32', '64F': 'float64'}

_bridge = CvBridge()


class ConversionError(ValueError):
    """A message or array that cannot be converted; the message says what and what to do."""


def _encoding_layout(encoding: str) -> tuple[np.dtype, int]:
    """Return (dtype, channels) of a supported encoding, or raise ConversionError."""
    if encoding in _NAMED_ENCODINGS:
        dtype_name, channels = _NAMED_ENCODINGS[encoding]
        return np.dtype(dtype_name), channels
    match = re.fullmatch(r'(8U|8S|16U|16S|32S|32F|64F)(?:C([1-4]))?', encoding)
    if match is None:
        raise ConversionError(
            f"unsupported image encoding '{encoding}'; publish one of "
            f"{', '.join(sorted(_NAMED_ENCODINGS))}, 16UC1 or 32FC1 (Bayer and YUV images must "
            'be debayered / converted first, e.g. by image_proc)')
    return np.dtype(_GENERIC_DEPTHS[match.group(1)]), int(match.group(2) or 1)


def _checked_layout(image: Any, encoding: str) -> tuple[np.dtype, int]:
    """Return the layout of `encoding` after checking `image` is a numpy array that fits it."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ConversionError(
            f'image must be a non-empty 2-D or 3-D numpy array, got '
            f'{getattr(image, "shape", type(image).__name__)}')
    dtype, channels = _encoding_layout(encoding)
    have = 1 if image.ndim == 2 else image.shape[2]
    if image.dtype.newbyteorder('=') != dtype.newbyteorder('=') or have != channels:
        raise ConversionError(
            f"cannot publish a {image.dtype.name} image of shape {image.shape} as '{encoding}': "
            f"'{encoding}' is {channels} channel(s) of {dtype.name}")
    return dtype, channels


def image_msg_buffer(width_px: int, height_px: int, encoding: str,
                     header: Any = None) -> tuple[Image, np.ndarray]:
    """
    Return an Image of this size and encoding and a numpy view of its (uninitialised) data.

    Write the pixels into the view (e.g. as an OpenCV `dst`): the message then needs no copy.
    """
    dtype, channels = _encoding_layout(encoding)
    if width_px <= 0 or height_px <= 0:
        raise ConversionError(f'image is {width_px}x{height_px}; width and height must be '
                              'positive')
    step = width_px * channels * dtype.itemsize
    msg = Image(height=height_px, width=width_px, encoding=encoding,
                is_bigendian=sys.byteorder == 'big', step=step)
    if header is not None:
        msg.header = header
    msg.data = array.array('B', b'\0') * (step * height_px)  # memset-fast, no Python loop
    shape = (height_px, width_px) if channels == 1 else (height_px, width_px, channels)
    return msg, np.frombuffer(msg.data, dtype=dtype.newbyteorder('=')).reshape(shape)


def encoding_code(image: np.ndarray, encoding: str) -> int | None:
    """Return the cv2.cvtColor code that makes `image` `encoding`, None when it already is."""
    if image.dtype != np.uint8:
        raise ValueError(f'frame has pixel type {image.dtype}; the camera node publishes 8-bit')
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in (1, 3, 4):
        raise ValueError(f'frame has {channels} channels; expected grey, BGR or BGRA')
    if encoding == 'mono8':
        return {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}.get(channels)
    return {1: cv2.COLOR_GRAY2BGR, 4: cv2.COLOR_BGRA2BGR}.get(channels)


def to_encoding(image: np.ndarray, encoding: str) -> np.ndarray:
    """Return an 8-bit grey or BGR image as `encoding` (mono8 or bgr8); ValueError otherwise."""
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    code = encoding_code(image, encoding)
    return cv2.cvtColor(image, code) if code is not None else image


def published_image(image: np.ndarray, name: str, size: tuple[int, int], encoding: str,
                    header: Any, as_msg: bool) -> tuple[np.ndarray, Image | None]:
    """
    Return `image` at the published `size` (w, h) and `encoding`, and its Image when `as_msg`.

    The Image's data is written by the resize or colour conversion itself (its `dst`): one
    pass over the pixels, no copy afterwards. ValueError says why a frame cannot be used.
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f'{name} image is not a 2-D grey or colour image')
    width, height = size
    h, w = image.shape[:2]
    resize = (w, h) != (width, height)
    if resize and not same_aspect((w, h), size):
        raise ValueError(
            f'{name} image is {w}x{h} but the calibration is {width}x{height} at the '
            f'published size (aspect {w / h:.3f} vs {width / height:.3f}); give images '
            'with the aspect ratio of the calibration, or a calibration for these images')
    interpolation = cv2.INTER_AREA if w * h > width * height else cv2.INTER_LINEAR
    if not as_msg:
        if resize:
            image = cv2.resize(image, (width, height), interpolation=interpolation)
        return to_encoding(image, encoding), None
    code = encoding_code(image, encoding)
    msg, out = image_msg_buffer(width, height, encoding, header)
    if resize:
        if code is None:
            result = cv2.resize(image, (width, height), dst=out, interpolation=interpolation)
        else:
            result = cv2.cvtColor(cv2.resize(image, (width, height),
                                             interpolation=interpolation), code, dst=out)
    elif code is None:
        result = image.reshape(out.shape)
    else:
        result = cv2.cvtColor(image, code, dst=out)
    if result is not out:
        out[...] = result  # OpenCV made its own array after all, or no conversion was needed
    return out, msg


def image_to_msg(image: np.ndarray, encoding: str, header: Any = None) -> Image:
    """Return a sensor_msgs/Image of `image` in `encoding` (dtype and channels must fit)."""
    _checked_layout(image, encoding)
    image = np.ascontiguousarray(image)
    if image.dtype.byteorder not in ('=', '|'):  # explicit '<' or '>': send it in host order
        image = image.astype(image.dtype.newbyteorder('='))
    height_px, width_px = image.shape[:2]
    msg = Image(height=height_px, width=width_px, encoding=encoding,
                is_bigendian=sys.byteorder == 'big', step=image.strides[0])
    if header is not None:
        msg.header = header
    msg.data.frombytes(image.reshape(-1).view(np.uint8))  # one copy, no bytes in between
    return msg


_CV_CONVERSIONS = {
    ('mono8', 'bgr8'): cv2.COLOR_GRAY2BGR, ('bgr8', 'mono8'): cv2.COLOR_BGR2GRAY,
    ('rgb8', 'bgr8'): cv2.COLOR_RGB2BGR, ('bgra8', 'bgr8'): cv2.COLOR_BGRA2BGR,
    ('rgba8', 'bgr8'): cv2.COLOR_RGBA2BGR, ('rgb8', 'mono8'): cv2.COLOR_RGB2GRAY,
    ('bgra8', 'mono8'): cv2.COLOR_BGRA2GRAY, ('rgba8', 'mono8'): cv2.COLOR_RGBA2GRAY,
}
"""The conversions the nodes ask for, done on the zero-copy view (others go through the bridge)."""


def msg_to_image(msg: Image, desired_encoding: str = 'passthrough') -> np.ndarray:
    """
    Return the pixels of a sensor_msgs/Image (honouring step and is_bigendian) as numpy.

    Passthrough (or the message's own encoding) returns a view of msg.data, no copy: it lives
    as long as the array and changes with it.
    """
    dtype, channels = _encoding_layout(msg.encoding)
    if desired_encoding != 'passthrough':
        _encoding_layout(desired_encoding)
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    pixel_bytes = dtype.itemsize * channels
    if width <= 0 or height <= 0:
        raise ConversionError(f'image is {width}x{height}; width and height must be positive')
    if step < width * pixel_bytes:
        raise ConversionError(
            f'image step {step} is smaller than width {width} x {pixel_bytes} bytes per '
            f"'{msg.encoding}' pixel = {width * pixel_bytes}; the publisher sets step wrongly")
    size = len(msg.data)
    if size != height * step:
        raise ConversionError(
            f'image data has {size} bytes but height {height} x step {step} = '
            f"{height * step} ({width}x{height} '{msg.encoding}'); the message is truncated or "
            'its width/height/step are wrong')
    host_order = bool(msg.is_bigendian) == (sys.byteorder == 'big') or dtype.itemsize == 1
    aligned = step % pixel_bytes == 0
    same = desired_encoding in ('passthrough', msg.encoding)
    code = _CV_CONVERSIONS.get((msg.encoding, desired_encoding))
    if host_order and aligned and (same or code is not None):
        rows = np.frombuffer(msg.data, dtype=dtype).reshape(
            height, step // pixel_bytes, channels)
        image = rows[:, :width] if channels > 1 else rows[:, :width, 0]
        return image if same else cv2.cvtColor(image, code)
    if not aligned:
        # Rows padded by a non-multiple of the pixel size: repack them tightly for the bridge.
        rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(height, step)
        packed = Image(header=msg.header, height=height, width=width, encoding=msg.encoding,
                       is_bigendian=msg.is_bigendian, step=width * pixel_bytes)
        packed.data.frombytes(np.ascontiguousarray(rows[:, :width * pixel_bytes]))
        msg = packed
    try:
        image = _bridge.imgmsg_to_cv2(msg, desired_encoding)
    except (CvBridgeError, TypeError, ValueError) as error:
        raise ConversionError(
            f"cannot convert a '{msg.encoding}' image to '{desired_encoding}': {error}") from None
    return np.asarray(image)


def depth_msg_to_m(msg: Image) -> np.ndarray:
    """Return a REP 118 depth image (32FC1 m or 16UC1 mm) as float32 metres, NaN = no depth."""
    depth = msg_to_image(msg).astype(np.float32)
    if msg.encoding == '16UC1':
        depth = np.where(depth > 0, depth / 1000.0, np.nan).astype(np.float32)
    return depth


def camera_info_msg(model: CameraModel, header: Any = None) -> CameraInfo:
    """Return the sensor_msgs/CameraInfo of one camera (binning 0, zero ROI = full image)."""
    info = CameraInfo()
    if header is not None:
        info.header = header
    info.width = int(model.width_px)
    info.height = int(model.height_px)
    info.distortion_model = model.distortion_model
    info.d = [float(v) for v in model.D.ravel()]
    info.k = [float(v) for v in model.K.ravel()]
    info.r = [float(v) for v in model.R.ravel()]
    info.p = [float(v) for v in model.P.ravel()]
    info.binning_x = 0
    info.binning_y = 0
    info.roi = RegionOfInterest()
    return info


def camera_info_image_size(info: CameraInfo) -> tuple[int, int]:
    """
    Return the (width, height) of the images a CameraInfo describes (REP 104).

    width/height are the calibrated size; a region of interest crops it, binning divides it.
    """
    width, height = int(info.width), int(info.height)
    roi = info.roi
    if roi.width > 0 and roi.height > 0:
        width, height = int(roi.width), int(roi.height)
    return width // max(1, int(info.binning_x)), height // max(1, int(info.binning_y))


def camera_model_from_msg(info: CameraInfo) -> CameraModel:
    """
    Return the CameraModel of a CameraInfo; raise CalibrationError if zero or malformed.

    A region of interest or binning (REP 104) gives the model of the images actually sent:
    K and P moved by the ROI offset, then scaled by the binning (pixel centres kept).
    """
    model = CameraModel(info.width, info.height, list(info.k), list(info.d), list(info.r),
                        list(info.p), info.distortion_model or 'plumb_bob')
    if model.width_px <= 0 or model.height_px <= 0:
        raise CalibrationError(
            f'CameraInfo size is {model.width_px}x{model.height_px}; width and height must be '
            'set (is the camera driver publishing a calibration?)')
    if not np.any(model.K) or not np.any(model.P):
        raise CalibrationError(
            'CameraInfo K or P is all zeros: the camera is not calibrated; calibrate it '
            '(camera_calibration) or give the driver a calibration file')
    for name, matrix in (('K', model.K), ('P', model.P)):
        if matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
            raise CalibrationError(
                f'CameraInfo {name} has focal length fx={matrix[0, 0]:g}, fy={matrix[1, 1]:g}; '
                'both must be positive (is the camera calibrated?)')
        if not np.allclose(matrix[2, :3], [0.0, 0.0, 1.0]) or matrix[1, 0] != 0:
            raise CalibrationError(
                f'CameraInfo {name} is malformed: its last row must start 0, 0, 1 and '
                f'{name}[1,0] must be 0, got {matrix.ravel().tolist()} (row-major 3x'
                f'{matrix.shape[1]})')
    return _binned(model, info)


def _binned(model: CameraModel, info: CameraInfo) -> CameraModel:
    """Return `model` (the calibrated size) for the ROI and binning of `info` (REP 104)."""
    roi = info.roi
    full_roi = roi.width == 0 or roi.height == 0 or \
        (roi.x_offset, roi.y_offset, roi.width, roi.height) == (0, 0, model.width_px,
                                                                model.height_px)
    binning = (max(1, int(info.binning_x)), max(1, int(info.binning_y)))
    if full_roi and binning == (1, 1):
        return model
    if not full_roi:
        if roi.x_offset + roi.width > model.width_px or \
                roi.y_offset + roi.height > model.height_px:
            raise CalibrationError(
                f'CameraInfo roi {roi.width}x{roi.height} at ({roi.x_offset}, {roi.y_offset}) '
                f'does not fit in the calibrated {model.width_px}x{model.height_px} image')
        shift = np.array([[1.0, 0.0, -float(roi.x_offset)], [0.0, 1.0, -float(roi.y_offset)],
                          [0.0, 0.0, 1.0]])
        model = CameraModel(int(roi.width), int(roi.height), shift @ model.K, model.D, model.R,
                            shift @ model.P, model.distortion_model)
    width, height = camera_info_image_size(info)
    if width <= 0 or height <= 0:
        raise CalibrationError(f'CameraInfo binning {binning[0]}x{binning[1]} leaves no image '
                               f'of the {model.width_px}x{model.height_px} calibration')
    return model.scaled_to(width, height)


def stereo_from_msgs(left_info: CameraInfo, right_info: CameraInfo) -> StereoCalibration:
    """Return the validated StereoCalibration of a left/right CameraInfo pair."""
    cams = []
    for side, info in (('left', left_info), ('right', right_info)):
        try:
            cams.append(camera_model_from_msg(info))
        except CalibrationError as error:
            raise CalibrationError(f'{side} camera_info: {error}') from None
    left, right = cams
    if (left.width_px, left.height_px) != (right.width_px, right.height_px):
        raise CalibrationError(
            f'left camera_info is {left.width_px}x{left.height_px} but right is '
            f'{right.width_px}x{right.height_px}; both cameras must publish one image size')
    return StereoCalibration(left, right, 'camera_info').validate()


def disparity_msg(disparity_px: np.ndarray, header: Any, focal_px: float, baseline_m: float,
                  min_disparity: float, max_disparity: float,
                  valid_window: Sequence[int]) -> DisparityImage:
    """
    Return a stereo_msgs/DisparityImage as stereo_image_proc publishes it.

    Invalid (non-finite) pixels are set to min_disparity - 1; valid_window is (x0, y0, x1, y1)
    with x1, y1 exclusive, clipped to the image.
    """
    disparity = np.asarray(disparity_px, dtype=np.float32)
    if disparity.ndim != 2 or disparity.size == 0:
        raise ConversionError(f'disparity must be a non-empty 2-D array, got {disparity.shape}')
    if not (focal_px > 0 and baseline_m > 0):
        raise ConversionError(
            f'focal length ({focal_px} px) and baseline ({baseline_m} m) must be positive')
    if max_disparity < min_disparity:
        raise ConversionError(
            f'max_disparity {max_disparity} is below min_disparity {min_disparity}')
    height_px, width_px = disparity.shape
    x0, y0, x1, y1 = (int(v) for v in valid_window)
    x0, x1 = min(max(x0, 0), width_px), min(max(x1, 0), width_px)
    y0, y1 = min(max(y0, 0), height_px), min(max(y1, 0), height_px)
    msg = DisparityImage()
    if header is not None:
        msg.header = header
    # Written straight into the message's data: one pass, no intermediate array.
    msg.image, out = image_msg_buffer(width_px, height_px, '32FC1', msg.header)
    np.copyto(out, disparity)
    out[~np.isfinite(out)] = np.float32(min_disparity - 1)
    msg.f = float(focal_px)
    msg.t = float(baseline_m)
    msg.valid_window = RegionOfInterest(x_offset=x0, y_offset=y0, width=max(0, x1 - x0),
                                        height=max(0, y1 - y0), do_rectify=False)
    msg.min_disparity = float(min_disparity)
    msg.max_disparity = float(max_disparity)
    msg.delta_d = DISPARITY_DELTA_D
    return msg


def point_cloud_msg(depth_m: np.ndarray, K: np.ndarray, header: Any,
                    colors_bgr: np.ndarray | None = None,
                    keep_nan: bool = False) -> PointCloud2:
    """
    Return a PointCloud2 (x, y, z float32 m [+ rgb]) of depth · K⁻¹ [u v 1] per pixel.

    Points are in the camera's optical frame (REP 103: x right, y down, z forward). With
    keep_nan the cloud is organised (height x width, NaN where no depth), else only finite
    points are kept (height 1). rgb is 0x00RRGGBB reinterpreted as float32, as PCL/RViz expect.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2 or depth.size == 0:
        raise ConversionError(f'depth must be a non-empty 2-D array, got {depth.shape}')
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ConversionError(f'K has focal lengths fx={K[0, 0]:g}, fy={K[1, 1]:g}; '
                              'both must be positive')
    if K[1, 0] != 0 or not np.array_equal(K[2], [0.0, 0.0, 1.0]):
        raise ConversionError(f'K must be a camera matrix [[fx s cx] [0 fy cy] [0 0 1]], got '
                              f'{K.ravel().tolist()}')
    height_px, width_px = depth.shape
    colors = None
    if colors_bgr is not None:
        colors = np.asarray(colors_bgr)
        if colors.ndim == 2:
            colors = np.repeat(colors[:, :, None], 3, axis=2)
        if colors.shape[:2] != depth.shape or colors.shape[2] < 3 or colors.dtype != np.uint8:
            raise ConversionError(
                f'colors_bgr must be uint8 {width_px}x{height_px} (bgr8 or mono8) like the '
                f'depth image, got {colors.dtype.name} {colors.shape}')
    # K is upper triangular, so K^-1 [u v 1] = [a u + b v + c, e v + f, 1]: broadcast per axis.
    k_inv = np.linalg.inv(K)
    u = np.arange(width_px, dtype=np.float64)[None, :]
    v = np.arange(height_px, dtype=np.float64)[:, None]
    z = np.where(depth > 0, depth, np.float32(np.nan))  # 0 or negative depth: no measurement
    dtype = [('x', '<f4'), ('y', '<f4'), ('z', '<f4')]
    fields = [PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, name in enumerate('xyz')]
    if colors is not None:
        fields.append(PointField(name='rgb', offset=12, datatype=PointField.FLOAT32, count=1))
        dtype.append(('rgb', '<f4'))
    points = np.empty((height_px, width_px), dtype=dtype)
    points['x'] = ((k_inv[0, 0] * u + k_inv[0, 1] * v + k_inv[0, 2]) * z).astype(np.float32)
    points['y'] = ((k_inv[1, 1] * v + k_inv[1, 2]) * z).astype(np.float32)
    points['z'] = z
    if colors is not None:
        bgr = colors[:, :, :3].astype(np.uint32)
        packed = (bgr[:, :, 2] << 16) | (bgr[:, :, 1] << 8) | bgr[:, :, 0]
        points['rgb'] = packed.astype('<u4').view('<f4')
    points = points.ravel()
    finite = np.isfinite(points['x']) & np.isfinite(points['y']) & np.isfinite(points['z'])
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    if keep_nan:
        points['x'][~finite] = np.nan
        points['y'][~finite] = np.nan
        points['z'][~finite] = np.nan
        msg.height, msg.width = height_px, width_px
        msg.is_dense = bool(finite.all())
    else:
        points = points[finite]
        msg.height, msg.width = 1, int(points.size)
        msg.is_dense = True
    msg.fields = fields
    msg.is_bigendian = False
    msg.point_step = points.dtype.itemsize
    msg.row_step = msg.point_step * msg.width
    msg.data.frombytes(np.ascontiguousarray(points).view(np.uint8))
    return msg


def age_ms(clock: Any, stamp: Any) -> float:
    """Return how long ago `stamp` was by `clock` (an rclpy Clock), in milliseconds."""
    return (clock.now().nanoseconds - stamp_to_ns(stamp)) / 1e6


def stamp_to_ns(stamp: Any) -> int:
    """Return a builtin_interfaces/Time (or rclpy Time) as integer nanoseconds."""
    if hasattr(stamp, 'nanoseconds'):
        return int(stamp.nanoseconds)
    return int(stamp.sec) * _NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    """Return integer nanoseconds as a builtin_interfaces/Time."""
    sec, nanosec = divmod(int(ns), _NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


def transform_msg(transform: StaticTransform, stamp: Any) -> TransformStamped:
    """Return a core StaticTransform as geometry_msgs/TransformStamped (for /tf_static)."""
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = transform.parent
    msg.child_frame_id = transform.child
    msg.transform.translation = Vector3(x=transform.translation_m[0],
                                        y=transform.translation_m[1],
                                        z=transform.translation_m[2])
    x, y, z, w = transform.rotation_xyzw
    msg.transform.rotation = Quaternion(x=x, y=y, z=z, w=w)
    return msg


def compressed_msg(image: np.ndarray, header: Any, jpeg_quality: int) -> CompressedImage:
    """Return a mono8/bgr8 image as JPEG CompressedImage, formatted as image_transport does."""
    encoding = 'mono8' if image.ndim == 2 else 'bgr8'
    ok, data = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise ConversionError(f'JPEG encoding of a {image.shape} {encoding} image failed')
    msg = CompressedImage(format=f'{encoding}; jpeg compressed {encoding}')
    if header is not None:
        msg.header = header
    msg.data.frombytes(np.ascontiguousarray(data).reshape(-1))
    return msg


def compressed_to_image(msg: CompressedImage, max_pixels: int | None = None) -> np.ndarray:
    """
    Return a JPEG/PNG CompressedImage as a mono8 or bgr8 array.

    The size its header announces is checked first against max_pixels (default: the depth
    node's MAX_IMAGE_PIXELS), so hostile bytes cannot make the decoder allocate a huge image.
    """
    data = np.frombuffer(msg.data, np.uint8)
    limit = depth_params.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        checked_image_header(data, limit)
    except ImageTooLarge as error:
        raise ConversionError(f'compressed image (format {msg.format!r}, {data.size} '
                              f'bytes): {error}') from None
    except ImageHeaderError as error:
        raise ConversionError(
            f'compressed image (format {msg.format!r}, {data.size} bytes) does not decode as '
            f"JPEG or PNG ({error}); publish image_transport's compressed format") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ConversionError(
            f'compressed image (format {msg.format!r}, {data.size} bytes) does not decode as '
            "JPEG or PNG; publish image_transport's compressed format")
    if image.dtype != np.uint8:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image  # BGR: image_transport's compressed plugin encodes colour as bgr8
