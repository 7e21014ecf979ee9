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

"""Conversions between numpy / the stereo core and ROS messages, through real message types."""

import struct

import cv2
from helpers import textured_pair
import numpy as np
import pytest
from raiv_stereo.core.calibration import CalibrationError, CameraModel, raiv_nominal
from raiv_stereo.ros.conversions import (
    age_ms,
    camera_info_msg,
    camera_model_from_msg,
    ConversionError,
    disparity_msg,
    encoding_code,
    image_msg_buffer,
    image_to_msg,
    msg_to_image,
    ns_to_stamp,
    point_cloud_msg,
    published_image,
    stamp_to_ns,
    stereo_from_msgs,
    to_encoding,
)
from sensor_msgs.msg import Image
from std_msgs.msg import Header

RNG = np.random.default_rng(7)
ENCODINGS = {  # encoding -> (dtype, channels)
    'mono8': (np.uint8, 1), 'bgr8': (np.uint8, 3), 'rgb8': (np.uint8, 3),
    'bgra8': (np.uint8, 4), 'rgba8': (np.uint8, 4), 'mono16': (np.uint16, 1),
    '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1),
}


def _image(dtype, channels, width=7, height=5):
    shape = (height, width) if channels == 1 else (height, width, channels)
    if np.dtype(dtype).kind == 'f':
        return RNG.uniform(-100.0, 100.0, shape).astype(dtype)
    return RNG.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


def _header(sec=12, nanosec=345, frame_id='cam'):
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = sec, nanosec
    return header


def _padded_msg(image, encoding, pad_bytes, big_endian=False):
    """Build an Image by hand with `pad_bytes` of junk after each row."""
    data = image.astype(image.dtype.newbyteorder('>' if big_endian else '<'))
    rows = data.reshape(image.shape[0], -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((rows.shape[0], pad_bytes), 0xAB, np.uint8)], axis=1)
    msg = Image(height=image.shape[0], width=image.shape[1], encoding=encoding,
                is_bigendian=big_endian, step=padded.shape[1])
    msg.data.frombytes(padded.tobytes())
    return msg


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
def test_round_trip_every_encoding(encoding):
    image = _image(*ENCODINGS[encoding])
    msg = image_to_msg(image, encoding, _header())
    assert (msg.encoding, msg.width, msg.height) == (encoding, 7, 5)
    assert msg.step == 7 * image.itemsize * ENCODINGS[encoding][1]
    assert msg.header.stamp.sec == 12 and msg.header.frame_id == 'cam'
    back = msg_to_image(msg)
    assert back.dtype == image.dtype and back.shape == image.shape
    np.testing.assert_array_equal(back, image)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('pad_bytes', [1, 2, 8])
def test_step_padding_is_honoured(encoding, pad_bytes):
    image = _image(*ENCODINGS[encoding])
    msg = _padded_msg(image, encoding, pad_bytes)
    assert msg.step > msg.width * image.itemsize * ENCODINGS[encoding][1]
    np.testing.assert_array_equal(msg_to_image(msg), image)


@pytest.mark.parametrize('encoding', ['mono16', '16UC1', '32FC1'])
def test_big_endian_data_is_read_as_values(encoding):
    image = _image(*ENCODINGS[encoding])
    msg = _padded_msg(image, encoding, 2, big_endian=True)
    back = msg_to_image(msg)
    np.testing.assert_array_equal(back, image)
    assert back.dtype.isnative


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
def test_conversions_copy_nothing_but_the_one_copy_into_the_message(encoding):
    image = _image(*ENCODINGS[encoding], width=9, height=4)
    msg = image_to_msg(image, encoding)
    data = np.frombuffer(msg.data, np.uint8)
    assert not np.shares_memory(data, image)  # the message owns its pixels
    back = msg_to_image(msg)
    assert np.shares_memory(back, data)  # a view of msg.data, no copy
    np.testing.assert_array_equal(back, image)
    assert np.shares_memory(msg_to_image(msg, encoding), data)  # the same encoding: a view too
    # Padded rows whose step is a whole number of pixels: still a view, of the unpadded part.
    padded = _padded_msg(image, encoding, 2 * image.itemsize * ENCODINGS[encoding][1])
    view = msg_to_image(padded)
    assert np.shares_memory(view, np.frombuffer(padded.data, np.uint8))
    np.testing.assert_array_equal(view, image)
    # A buffer message: what is written into its view is the message's data.
    built, out = image_msg_buffer(9, 4, encoding, _header())
    out[...] = image
    assert np.shares_memory(out, np.frombuffer(built.data, np.uint8))
    assert (built.width, built.height, built.step, len(built.data)) == \
        (msg.width, msg.height, msg.step, len(msg.data))
    assert built.header.frame_id == 'cam' and bytes(built.data) == bytes(msg.data)
    np.testing.assert_array_equal(msg_to_image(built), image)


def test_image_to_msg_takes_strided_and_byte_swapped_arrays_by_value():
    bgr = _image(np.uint8, 3, width=8)
    np.testing.assert_array_equal(msg_to_image(image_to_msg(bgr[:, ::2], 'bgr8')), bgr[:, ::2])
    swapped = _image(np.float32, 1).astype('>f4')
    msg = image_to_msg(swapped, '32FC1')
    assert not msg.is_bigendian
    np.testing.assert_array_equal(msg_to_image(msg), swapped.astype('<f4'))
    with pytest.raises(ConversionError, match='1 channel'):
        image_to_msg(bgr, 'mono8')
    with pytest.raises(ConversionError, match='must be positive'):
        image_msg_buffer(0, 4, 'mono8')


def test_colour_conversions_follow_cv_bridge():
    bgr = _image(np.uint8, 3)
    msg = image_to_msg(bgr, 'bgr8')
    np.testing.assert_array_equal(msg_to_image(msg, 'rgb8'), bgr[:, :, ::-1])
    np.testing.assert_array_equal(msg_to_image(msg, 'mono8'),
                                  cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    np.testing.assert_array_equal(msg_to_image(msg, 'bgra8')[:, :, 3], 255)
    mono = _image(np.uint8, 1)
    as_bgr = msg_to_image(image_to_msg(mono, 'mono8'), 'bgr8')
    np.testing.assert_array_equal(as_bgr, np.dstack([mono] * 3))
    # 8 <-> 16 bit scales by 65535 / 255 = 257, as cv_bridge's cvtColor does.
    np.testing.assert_array_equal(msg_to_image(image_to_msg(mono, 'mono8'), 'mono16'),
                                  mono.astype(np.uint16) * 257)
    mono16 = np.array([[0, 257, 65535]], np.uint16)
    np.testing.assert_array_equal(msg_to_image(image_to_msg(mono16, 'mono16'), 'mono8'),
                                  [[0, 1, 255]])


def test_impossible_conversions_raise_conversion_error():
    depth = image_to_msg(_image(np.float32, 1), '32FC1')
    with pytest.raises(ConversionError, match="'32FC1' image to 'mono8'"):
        msg_to_image(depth, 'mono8')
    with pytest.raises(ConversionError, match='unsupported image encoding .bayer_rggb8'):
        msg_to_image(Image(width=2, height=2, step=2, encoding='bayer_rggb8', data=[0] * 4))
    with pytest.raises(ConversionError, match="unsupported image encoding 'jpeg'"):
        image_to_msg(_image(np.uint8, 3), 'jpeg')
    with pytest.raises(ConversionError, match="as 'bgr8'"):
        image_to_msg(_image(np.float32, 1), 'bgr8')


def test_wrong_data_size_is_a_clear_error():
    msg = image_to_msg(_image(np.uint8, 3), 'bgr8')
    short = Image(height=msg.height, width=msg.width, encoding='bgr8', step=msg.step)
    short.data.frombytes(bytes(msg.data)[:-1])
    with pytest.raises(ConversionError, match=r'104 bytes but height 5 x step 21 = 105'):
        msg_to_image(short)
    long = Image(height=msg.height, width=msg.width, encoding='bgr8', step=msg.step)
    long.data.frombytes(bytes(msg.data) + b'\0')
    with pytest.raises(ConversionError, match='truncated or its width/height/step are wrong'):
        msg_to_image(long)
    narrow = Image(height=5, width=7, encoding='bgr8', step=20)
    narrow.data.frombytes(bytes(100))
    with pytest.raises(ConversionError, match=r'step 20 is smaller than width 7 x 3 bytes'):
        msg_to_image(narrow)
    with pytest.raises(ConversionError, match='width and height must be positive'):
        msg_to_image(Image(height=0, width=7, encoding='mono8', step=7))


def test_camera_info_binning_and_roi_give_the_model_of_the_images_sent():
    full = raiv_nominal().left  # 1600x1300
    info = camera_info_msg(full)
    info.binning_x = info.binning_y = 2
    binned = camera_model_from_msg(info)
    half = full.scaled_to(800, 650)
    assert (binned.width_px, binned.height_px) == (800, 650)
    np.testing.assert_allclose(binned.K, half.K)
    np.testing.assert_allclose(binned.P, half.P)
    info.roi.x_offset, info.roi.y_offset, info.roi.width, info.roi.height = 100, 50, 800, 600
    cropped = camera_model_from_msg(info)  # the ROI in sensor pixels, then binned
    assert (cropped.width_px, cropped.height_px) == (400, 300)
    assert cropped.K[0, 2] == pytest.approx((full.K[0, 2] - 100 + 0.5) / 2 - 0.5)
    assert cropped.K[0, 0] == pytest.approx(full.K[0, 0] / 2)
    info.roi.x_offset = 900
    with pytest.raises(CalibrationError, match='does not fit'):
        camera_model_from_msg(info)


def test_camera_info_round_trip_through_camera_model():
    calib = raiv_nominal().scaled(0.5)
    model = CameraModel(calib.left.width_px, calib.left.height_px, calib.left.K,
                        [0.1, -0.02, 0.001, 0.002, 0.003], np.eye(3), calib.right.P)
    info = camera_info_msg(model, _header(frame_id='left_optical'))
    assert (info.width, info.height) == (800, 650)
    assert info.distortion_model == 'plumb_bob' and info.header.frame_id == 'left_optical'
    assert (info.binning_x, info.binning_y) == (0, 0)
    assert (info.roi.x_offset, info.roi.y_offset, info.roi.width, info.roi.height) == (0, 0, 0, 0)
    np.testing.assert_array_equal(info.k, model.K.ravel())
    np.testing.assert_array_equal(info.p, model.P.ravel())
    back = camera_model_from_msg(info)
    assert (back.width_px, back.height_px) == (800, 650)
    for name in 'KDRP':
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))


def _pair_infos(calib=None):
    calib = calib or raiv_nominal().scaled(0.5)
    return camera_info_msg(calib.left), camera_info_msg(calib.right)


def test_stereo_from_msgs_gives_focal_and_baseline():
    stereo = stereo_from_msgs(*_pair_infos())
    nominal = raiv_nominal().scaled(0.5)
    assert stereo.image_size == (800, 650)
    assert stereo.focal_px == pytest.approx(nominal.focal_px)
    assert stereo.baseline_mm == pytest.approx(65.0)


def test_stereo_from_msgs_rejects_zero_focal_length():
    left, right = _pair_infos()
    left.k = [0.0] * 9
    left.p = [0.0] * 12
    with pytest.raises(CalibrationError, match='left camera_info: .*not calibrated'):
        stereo_from_msgs(left, right)
    left, right = _pair_infos()
    p = right.p.copy()
    p[0] = 0.0
    right.p = p
    with pytest.raises(CalibrationError, match='right camera_info: .*fx=0'):
        stereo_from_msgs(left, right)


def test_stereo_from_msgs_rejects_zero_baseline_and_wrong_sign():
    left, right = _pair_infos()
    p = right.p.copy()
    p[3] = 0.0
    right.p = p
    with pytest.raises(CalibrationError, match='zero baseline'):
        stereo_from_msgs(left, right)
    p[3] = +0.065 * p[0]
    right.p = p
    with pytest.raises(CalibrationError, match=r'Tx\) is .* > 0.*swapped'):
        stereo_from_msgs(left, right)


def test_stereo_from_msgs_rejects_sizes_that_differ():
    left, _ = _pair_infos()
    _, right = _pair_infos(raiv_nominal().scaled(0.25))
    with pytest.raises(CalibrationError, match='left camera_info is 800x650 but right is 400x325'):
        stereo_from_msgs(left, right)


def test_stereo_from_msgs_rejects_malformed_k_and_p():
    left, right = _pair_infos()
    k = left.k.copy()
    k[8] = 0.0
    left.k = k
    with pytest.raises(CalibrationError, match='left camera_info: CameraInfo K is malformed'):
        stereo_from_msgs(left, right)
    left, right = _pair_infos()
    p = right.p.copy()
    p[10] = 0.0
    right.p = p
    with pytest.raises(CalibrationError, match='right camera_info: CameraInfo P is malformed'):
        stereo_from_msgs(left, right)
    left, right = _pair_infos()
    k = left.k.copy()
    k[4] = np.nan
    left.k = k
    with pytest.raises(CalibrationError, match='K contains NaN'):
        stereo_from_msgs(left, right)


def test_disparity_msg_fields():
    disparity = RNG.uniform(10.0, 60.0, (6, 9)).astype(np.float32)
    disparity[2, 3] = np.nan
    disparity[4, 0] = np.inf
    msg = disparity_msg(disparity, _header(3, 4, 'rect'), 466.6, 0.065, 8, 71, (2, 1, 8, 5))
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (3, 4, 'rect')
    assert msg.image.header.frame_id == 'rect'
    assert msg.image.encoding == '32FC1'
    assert msg.f == pytest.approx(466.6) and msg.t == pytest.approx(0.065)
    assert (msg.min_disparity, msg.max_disparity) == (8.0, 71.0)
    assert msg.delta_d == pytest.approx(1.0 / 16.0)
    window = msg.valid_window
    assert (window.x_offset, window.y_offset, window.width, window.height) == (2, 1, 6, 4)
    image = msg_to_image(msg.image)
    assert image[2, 3] == 7.0 and image[4, 0] == 7.0  # invalid = min_disparity - 1
    valid = np.isfinite(disparity)
    np.testing.assert_array_equal(image[valid], disparity[valid])


def test_disparity_msg_clips_window_and_rejects_bad_geometry():
    msg = disparity_msg(np.zeros((4, 5), np.float32), None, 100.0, 0.1, 0, 15, (-3, 0, 99, 9))
    window = msg.valid_window
    assert (window.x_offset, window.y_offset, window.width, window.height) == (0, 0, 5, 4)
    with pytest.raises(ConversionError, match='baseline'):
        disparity_msg(np.zeros((4, 5), np.float32), None, 100.0, 0.0, 0, 15, (0, 0, 5, 4))


def _cloud_points(msg):
    names = [f.name for f in msg.fields]
    dtype = np.dtype({'names': names, 'formats': ['<f4'] * len(names),
                      'offsets': [f.offset for f in msg.fields], 'itemsize': msg.point_step})
    return np.frombuffer(bytes(msg.data), dtype=dtype)


def test_point_cloud_coordinates_equal_depth_times_inverse_k():
    K = np.array([[500.0, 0.7, 4.5], [0.0, 480.0, 3.0], [0.0, 0.0, 1.0]])  # with skew
    depth = RNG.uniform(0.5, 3.0, (6, 8)).astype(np.float32)
    depth[1, 2] = np.nan
    depth[5, 7] = 0.0
    msg = point_cloud_msg(depth, K, _header(frame_id='left_optical'))
    assert [f.name for f in msg.fields] == ['x', 'y', 'z']
    assert msg.point_step == 12 and msg.height == 1 and msg.width == 46 and msg.is_dense
    assert msg.row_step == 12 * 46 and msg.header.frame_id == 'left_optical'
    points = _cloud_points(msg)
    valid = np.isfinite(depth) & (depth > 0)
    us, vs = np.nonzero(valid.T)[0], np.nonzero(valid.T)[1]
    order = np.lexsort((us, vs))  # row-major pixel order
    for index in (0, 7, 20, 45):
        u, v = us[order][index], vs[order][index]
        expected = depth[v, u] * np.linalg.inv(K) @ [u, v, 1.0]
        got = [points['x'][index], points['y'][index], points['z'][index]]
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    # A pixel right of and below the principal point is at +x (right), +y (down), +z (forward).
    organised = _cloud_points(point_cloud_msg(depth, K, None, keep_nan=True)).reshape(6, 8)
    assert organised['x'][5, 6] > 0 and organised['y'][5, 6] > 0 and organised['z'][5, 6] > 0
    # x = z (u - cx - s (v - cy) / fy) / fx, y = z (v - cy) / fy (pinhole with skew s).
    np.testing.assert_allclose(organised['x'][0, 0],
                               depth[0, 0] * (0 - 4.5 - 0.7 * (0 - 3.0) / 480.0) / 500.0,
                               rtol=1e-6)
    np.testing.assert_allclose(organised['y'][0, 0], depth[0, 0] * (0 - 3.0) / 480.0, rtol=1e-6)


def test_point_cloud_keep_nan_is_organised():
    K = np.array([[100.0, 0.0, 2.0], [0.0, 100.0, 1.5], [0.0, 0.0, 1.0]])
    depth = np.full((4, 5), 2.0, np.float32)
    depth[0, 1] = np.nan
    msg = point_cloud_msg(depth, K, None, keep_nan=True)
    assert (msg.height, msg.width, msg.row_step) == (4, 5, 60) and not msg.is_dense
    points = _cloud_points(msg).reshape(4, 5)
    assert np.isnan(points['x'][0, 1]) and np.isnan(points['z'][0, 1])
    assert points['z'][3, 4] == pytest.approx(2.0)
    full = point_cloud_msg(np.full((4, 5), 2.0, np.float32), K, None, keep_nan=True)
    assert full.is_dense and full.width * full.height == 20


def test_point_cloud_rgb_unpacks_back():
    K = np.array([[100.0, 0.0, 1.0], [0.0, 100.0, 1.0], [0.0, 0.0, 1.0]])
    depth = np.ones((2, 3), np.float32)
    depth[1, 1] = np.nan
    colors = RNG.integers(0, 255, (2, 3, 3), endpoint=True).astype(np.uint8)
    msg = point_cloud_msg(depth, K, None, colors_bgr=colors)
    assert [(f.name, f.offset, f.datatype) for f in msg.fields][-1] == ('rgb', 12, 7)
    assert msg.point_step == 16 and msg.width == 5
    points = _cloud_points(msg)
    for index, (v, u) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]):
        packed = struct.unpack('<I', struct.pack('<f', points['rgb'][index]))[0]
        b, g, r = colors[v, u]
        assert packed == (int(r) << 16) | (int(g) << 8) | int(b)
    with pytest.raises(ConversionError, match='colors_bgr must be uint8'):
        point_cloud_msg(depth, K, None, colors_bgr=colors[:1])


def test_stamp_conversions():
    stamp = ns_to_stamp(1_700_000_123_456_789_012)
    assert (stamp.sec, stamp.nanosec) == (1_700_000_123, 456_789_012)
    assert stamp_to_ns(stamp) == 1_700_000_123_456_789_012
    assert stamp_to_ns(_header(5, 7).stamp) == 5_000_000_007
    from rclpy.time import Time
    assert stamp_to_ns(Time(nanoseconds=42)) == 42

    class FixedClock:  # an rclpy Clock stopped at one instant

        def now(self):
            return Time(nanoseconds=1_700_000_000_750_000_000)
    assert age_ms(FixedClock(), ns_to_stamp(1_700_000_000_500_000_000)) == 250.0
    assert age_ms(FixedClock(), ns_to_stamp(1_700_000_001_000_000_000)) == -250.0


def test_point_cloud_rejects_a_matrix_that_is_not_k():
    with pytest.raises(ConversionError, match='K must be a camera matrix'):
        point_cloud_msg(np.ones((2, 2), np.float32),
                        [[100.0, 0.0, 1.0], [0.0, 100.0, 1.0], [0.0, 0.0, 2.0]], None)


def test_compressed_images_round_trip_as_image_transport_formats_them():
    from sensor_msgs.msg import CompressedImage

    from raiv_stereo.ros.conversions import compressed_msg, compressed_to_image

    left, _ = textured_pair(48, 64, seed=5, cell_px=4)
    msg = compressed_msg(left, _header(), 95)
    assert msg.format == 'bgr8; jpeg compressed bgr8' and msg.header.frame_id == 'cam'
    decoded = compressed_to_image(msg)
    assert decoded.shape == left.shape and decoded.dtype == np.uint8
    # JPEG keeps brightness closely (colour is subsampled) and BGR stays BGR.
    luma = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(int) for image in (decoded, left)]
    assert np.abs(luma[0] - luma[1]).mean() < 3.0
    np.testing.assert_allclose(decoded.mean(axis=(0, 1)), left.mean(axis=(0, 1)), atol=3.0)
    grey = compressed_msg(left[..., 1], None, 95)
    assert grey.format == 'mono8; jpeg compressed mono8'
    assert compressed_to_image(grey).ndim == 2
    png = CompressedImage(format='bgr8; png compressed bgr8')
    png.data.frombytes(cv2.imencode('.png', left)[1].tobytes())
    np.testing.assert_array_equal(compressed_to_image(png), left)  # lossless
    broken = CompressedImage(format='jpeg')
    broken.data.frombytes(b'\xff\xd8 no more')
    with pytest.raises(ConversionError, match=r"format 'jpeg', 10 bytes\) does not decode"):
        compressed_to_image(broken)


def test_depth_messages_read_back_in_metres_with_nan_for_no_depth():
    from raiv_stereo.ros.conversions import depth_msg_to_m

    millimetres = image_to_msg(np.array([[0, 1500, 65535]], np.uint16), '16UC1')
    np.testing.assert_array_equal(depth_msg_to_m(millimetres),
                                  np.array([[np.nan, 1.5, 65.535]], np.float32))
    metres = image_to_msg(np.array([[np.nan, 2.25]], np.float32), '32FC1')
    np.testing.assert_array_equal(depth_msg_to_m(metres), [[np.nan, 2.25]])


@pytest.mark.parametrize('channels', [1, 3, 4])
@pytest.mark.parametrize('encoding', ['mono8', 'bgr8'])
def test_published_image_resizes_and_converts_into_the_message_data(channels, encoding):
    """The message's pixels equal an OpenCV resize then colour conversion of the frame."""
    frame = _image(np.uint8, channels, width=64, height=48)
    header = _header()
    out, msg = published_image(frame, 'left', (32, 24), encoding, header, as_msg=True)
    expected = to_encoding(cv2.resize(frame, (32, 24), interpolation=cv2.INTER_AREA), encoding)
    np.testing.assert_array_equal(out, expected)
    assert (msg.width, msg.height, msg.encoding) == (32, 24, encoding)
    assert msg.header.stamp.nanosec == 345
    np.testing.assert_array_equal(msg_to_image(msg), expected)
    array, none = published_image(frame, 'left', (32, 24), encoding, header, as_msg=False)
    assert none is None
    np.testing.assert_array_equal(array, expected)


def test_published_image_refuses_another_aspect_and_non_8_bit_frames():
    frame = _image(np.uint8, 1, width=64, height=48)
    with pytest.raises(ValueError, match=r'right image is 64x48 but the calibration is 40x40'):
        published_image(frame, 'right', (40, 40), 'mono8', None, as_msg=True)
    with pytest.raises(ValueError, match='pixel type uint16'):
        published_image(frame.astype(np.uint16), 'left', (64, 48), 'mono8', None, as_msg=True)
    with pytest.raises(ValueError, match='2 channels'):
        to_encoding(_image(np.uint8, 2), 'bgr8')
    with pytest.raises(ValueError, match='not a 2-D grey or colour image'):
        published_image(np.zeros(5, np.uint8), 'left', (5, 1), 'mono8', None, as_msg=False)


def test_to_encoding_takes_a_single_channel_axis_as_grey():
    grey = _image(np.uint8, 1)
    np.testing.assert_array_equal(to_encoding(grey[:, :, None], 'mono8'), grey)
    assert encoding_code(grey, 'mono8') is None
    assert encoding_code(grey, 'bgr8') == cv2.COLOR_GRAY2BGR
    np.testing.assert_array_equal(to_encoding(grey[:, :, None], 'bgr8'),
                                  np.dstack([grey] * 3))
