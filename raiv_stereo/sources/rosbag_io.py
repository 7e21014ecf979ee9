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
Stereo rosbag2 files without ROS: find the pair's topics, read synchronized pairs, write depth.

Built on `rosbags` (pure Python; reads and writes rosbag2 in SQLite3 and MCAP). Images may be
sensor_msgs/Image (mono8, bgr8, rgb8, bgra8, rgba8, mono16) or CompressedImage (JPEG, PNG);
left and right are paired by equal header stamps (or the nearest within a slop), each pair
with the camera_info of its stamp (else the latest before it).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
import re
from typing import Any, Iterator, Sequence

import cv2
import numpy as np
from raiv_stereo.core.calibration import CalibrationError, CameraModel, StereoCalibration
from raiv_stereo.core.depth import depth_m_to_mm_u16
from raiv_stereo.params import depth as depth_params
from raiv_stereo.sources.image_header import (
    checked_image_header,
    ImageHeaderError,
    ImageTooLarge,
)
import yaml

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
IMAGE_NAME_PREFERENCE = ('image_raw', 'image_rect', 'image_color', 'image_mono', 'image')
"""When several image topics of one side match, the first name ending here wins."""


class BagError(Exception):
    """A bag that cannot be used as asked; the message says what is wrong and what to do."""


def _rosbags():
    """Import rosbags, or say how to install it."""
    try:
        from rosbags import rosbag2
        from rosbags.typesys import get_typestore, Stores
    except ImportError:
        raise BagError("reading bags needs the 'rosbags' package: pip install rosbags (the "
                       "'noros' extra installs it)") from None
    return rosbag2, get_typestore(Stores.LATEST)


@dataclass(frozen=True)
class StereoTopics:
    """The four topics of a stereo pair in a bag."""

    left_image: str
    right_image: str
    left_info: str
    right_info: str

    @property
    def namespace(self) -> str:
        """Return what the left image topic has before '/left/' ('' at the root)."""
        match = re.match(r'^(.*?)/left(/|$)', self.left_image)
        return match.group(1) if match else ''

    def as_tuple(self) -> tuple[str, str, str, str]:
        """Return the topics in the order left image, right image, left info, right info."""
        return self.left_image, self.right_image, self.left_info, self.right_info


def _side_of(topic: str) -> str | None:
    """Return 'left' or 'right' when exactly one of them names a part of the topic."""
    parts = set(re.split(r'[/_]', topic.lower()))
    sides = [side for side in ('left', 'right') if side in parts]
    return sides[0] if len(sides) == 1 else None


def _pick(candidates: list[str], what: str, option: str, listing: str) -> str:
    """Return the one candidate topic (raw images first, uncompressed first) or raise BagError."""
    if not candidates:
        raise BagError(f'no {what} topic in the bag ({listing}); give it with {option}')
    for ending in IMAGE_NAME_PREFERENCE:
        preferred = [t for t in candidates if re.search(rf'/{ending}(/compressed)?$', t)]
        if preferred:
            candidates = preferred
            break
    uncompressed = [t for t in candidates if not t.endswith('/compressed')]
    if len(candidates) > 1 and len(uncompressed) == 1:
        candidates = uncompressed
    if len(candidates) > 1:
        raise BagError(f'several {what} topics in the bag ({", ".join(sorted(candidates))}); '
                       f'choose one with {option}')
    return candidates[0]


def find_stereo_topics(topics: dict[str, str], left_image: str | None = None,
                       right_image: str | None = None, left_info: str | None = None,
                       right_info: str | None = None, need_info: bool = True) -> StereoTopics:
    """
    Return the stereo topics of a bag (topic -> message type), found by name unless given.

    Image topics have 'left' or 'right' in their name and an Image or CompressedImage type;
    camera_info topics the CameraInfo type. Raw images are preferred over rectified ones, and
    each camera_info is looked for next to its image first. With need_info False (a
    calibration is given) missing camera_info topics are '' instead of an error.
    """
    listing = ', '.join(f'{t} [{m.split("/")[-1]}]' for t, m in sorted(topics.items())) or \
        'no topics'
    given = {'--left-topic': left_image, '--right-topic': right_image,
             '--left-info-topic': left_info, '--right-info-topic': right_info}
    for option, topic in given.items():
        if topic and topic not in topics:
            raise BagError(f'{option} {topic} is not in the bag ({listing})')
    chosen = {}
    for side in ('left', 'right'):
        image = given[f'--{side}-topic'] or _pick(
            [t for t, m in topics.items() if m in IMAGE_TYPES and _side_of(t) == side],
            f'{side} image', f'--{side}-topic', listing)
        if topics[image] not in IMAGE_TYPES:
            raise BagError(f'{image} carries {topics[image]}, not an image')
        info = given[f'--{side}-info-topic']
        if not info:
            infos = [t for t, m in topics.items() if m == INFO_TYPE and _side_of(t) == side]
            beside = image.rsplit('/', 2 if image.endswith('/compressed') else 1)[0] + \
                '/camera_info'
            if beside in infos:
                info = beside
            elif infos or need_info:
                info = _pick(infos, f'{side} camera_info', f'--{side}-info-topic', listing)
            else:
                info = ''
        if info and topics[info] != INFO_TYPE:
            raise BagError(f'{info} carries {topics[info]}, not sensor_msgs/msg/CameraInfo')
        chosen[side] = (image, info)
    return StereoTopics(chosen['left'][0], chosen['right'][0], chosen['left'][1],
                        chosen['right'][1])


# --- message contents -----------------------------------------------------------------------

_ENCODINGS = {'mono8': (1, np.uint8), '8uc1': (1, np.uint8), 'bgr8': (3, np.uint8),
              'rgb8': (3, np.uint8), '8uc3': (3, np.uint8), 'bgra8': (4, np.uint8),
              'rgba8': (4, np.uint8), 'mono16': (1, np.uint16), '16uc1': (1, np.uint16)}


def stamp_ns(msg: Any) -> int:
    """Return a message's header stamp in nanoseconds."""
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def image_from_msg(msg: Any, topic: str) -> np.ndarray:
    """Return an Image or CompressedImage as 8-bit grey or BGR; BagError says why it cannot."""
    data = np.asarray(msg.data, dtype=np.uint8)
    if hasattr(msg, 'format'):  # CompressedImage
        try:  # the announced size first: the decoder would allocate it
            checked_image_header(data, depth_params.MAX_IMAGE_PIXELS)
        except ImageTooLarge as error:
            raise BagError(f'{topic}: compressed image ({msg.format or "no format"}) is not '
                           f'decoded: {error}') from None
        except ImageHeaderError as error:
            raise BagError(f'{topic}: compressed image ({msg.format or "no format"}) does not '
                           f'decode (JPEG and PNG are read): {error}') from None
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise BagError(f'{topic}: compressed image ({msg.format or "no format"}) does not '
                           'decode (JPEG and PNG are read)')
    else:
        encoding = msg.encoding.lower()
        if encoding not in _ENCODINGS:
            raise BagError(f'{topic}: image encoding {msg.encoding!r} is not supported; '
                           f'record one of {", ".join(sorted(_ENCODINGS))}')
        channels, dtype = _ENCODINGS[encoding]
        row_bytes = int(msg.width) * channels * np.dtype(dtype).itemsize
        if msg.width <= 0 or msg.height <= 0 or msg.step < row_bytes or \
                data.size < int(msg.step) * int(msg.height):
            raise BagError(f'{topic}: image {msg.width}x{msg.height} step {msg.step} holds '
                           f'{data.size} bytes: truncated or malformed')
        rows = data[:int(msg.step) * int(msg.height)].reshape(int(msg.height), int(msg.step))
        image = np.ascontiguousarray(rows[:, :row_bytes]).view(
            np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<'))
        image = image.reshape(int(msg.height), int(msg.width), channels).astype(dtype)
        if channels == 1:
            image = image[:, :, 0]
        if encoding.startswith('rgb'):
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if channels == 3 else
                                 cv2.COLOR_RGBA2BGR)
        elif encoding == 'bgra8':
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def camera_from_info(msg: Any, topic: str) -> CameraModel:
    """Return the CameraModel of a CameraInfo message; BagError when it is not calibrated."""
    try:
        model = CameraModel(msg.width, msg.height, list(msg.k), list(msg.d), list(msg.r),
                            list(msg.p), msg.distortion_model or 'plumb_bob')
    except CalibrationError as error:
        raise BagError(f'{topic}: {error}') from None
    if model.width_px <= 0 or model.height_px <= 0 or not np.any(model.K) or \
            not np.any(model.P):
        raise BagError(f'{topic}: the camera_info is empty (size {model.width_px}x'
                       f'{model.height_px}, K or P zero): the camera was not calibrated; '
                       'give --calibration')
    return model


# --- reading pairs --------------------------------------------------------------------------

@dataclass
class BagPair:
    """One synchronized stereo pair read from a bag."""

    stamp_ns: int
    """The left image's header stamp."""
    bag_time_ns: int
    """When the left image was recorded (the bag's own time)."""
    left: np.ndarray
    right: np.ndarray
    calibration: StereoCalibration
    frame_id: str


def bag_topics(path: str | Path) -> dict[str, str]:
    """Return topic -> message type of a rosbag2 folder (or its .db3/.mcap file)."""
    rosbag2, _ = _rosbags()
    with _open_reader(rosbag2, path) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def _open_reader(rosbag2: Any, path: str | Path):
    path = Path(path)
    if not path.exists():
        raise BagError(f'no bag at {path}')
    try:
        return rosbag2.Reader(path)
    except Exception as error:  # noqa: BLE001 - rosbags raises several kinds for a bad bag
        raise BagError(f'{path} is not a readable rosbag2 bag: {error}') from None


def bag_storage(path: str | Path) -> str:
    """Return the storage of a rosbag2 folder: 'mcap' or 'sqlite3' (from metadata.yaml)."""
    metadata = Path(path) / 'metadata.yaml'
    try:
        info = yaml.safe_load(metadata.read_text())['rosbag2_bagfile_information']
        return 'mcap' if info.get('storage_identifier') == 'mcap' else 'sqlite3'
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return 'mcap' if Path(path).suffix == '.mcap' else 'sqlite3'


class StereoBagReader:
    """Reads synchronized stereo pairs from a rosbag2 bag, in recorded order."""

    def __init__(self, path: str | Path, topics: StereoTopics | None = None,
                 slop_s: float = 0.0, calibration: StereoCalibration | None = None,
                 **topic_options: str | None) -> None:
        """Open the bag and find its topics (given, or by name); BagError says what is wrong."""
        self.path = Path(path)
        self._rosbag2, self._typestore = _rosbags()
        with _open_reader(self._rosbag2, self.path) as reader:
            types = {c.topic: c.msgtype for c in reader.connections}
            counts = {c.topic: c.msgcount for c in reader.connections}
        self.topics = topics or find_stereo_topics(types, need_info=calibration is None,
                                                   **topic_options)
        self.slop_ns = int(round(slop_s * 1e9))
        self.calibration = calibration
        self.expected_pairs = min(counts.get(self.topics.left_image, 0),
                                  counts.get(self.topics.right_image, 0))
        self.unpaired = 0
        """Images read that found no partner of the other side."""
        self.skipped: list[str] = []
        """Why pairs were skipped (undecodable images, missing camera_info), one line each."""

    def _infos(self, reader: Any) -> dict[str, tuple[list[int], list[tuple[CameraModel, str]]]]:
        """Return per info topic the sorted stamps and their (model, frame_id)."""
        wanted = [c for c in reader.connections
                  if c.topic in (self.topics.left_info, self.topics.right_info)]
        found: dict[str, list[tuple[int, CameraModel, str]]] = {
            self.topics.left_info: [], self.topics.right_info: []}
        for connection, _, raw in reader.messages(connections=wanted):
            msg = self._typestore.deserialize_cdr(raw, connection.msgtype)
            found[connection.topic].append((stamp_ns(msg), camera_from_info(msg, connection.topic),
                                            msg.header.frame_id))
        result = {}
        for topic, entries in found.items():
            entries.sort(key=lambda e: e[0])
            result[topic] = ([e[0] for e in entries], [(e[1], e[2]) for e in entries])
        return result

    def _calibration_at(self, infos: dict, stamp: int) -> tuple[StereoCalibration, str]:
        models = []
        frame_id = ''
        for index, topic in enumerate((self.topics.left_info, self.topics.right_info)):
            stamps, entries = infos[topic]
            if not stamps:
                raise BagError(f'no message on {topic}; give --calibration')
            at = max(bisect_right(stamps, stamp) - 1, 0)
            models.append(entries[at][0])
            if index == 0:
                frame_id = entries[at][1]
        calibration = StereoCalibration(models[0], models[1], f'camera_info of {self.path.name}')
        try:
            return calibration.validate(), frame_id
        except CalibrationError as error:
            raise BagError(f'the camera_info pair of {self.path.name}: {error}') from None

    def pairs(self) -> Iterator[BagPair]:
        """Yield each synchronized pair; images without a partner are counted in `unpaired`."""
        with _open_reader(self._rosbag2, self.path) as reader:
            infos = self._infos(reader) if self.calibration is None else None
            wanted = [c for c in reader.connections
                      if c.topic in (self.topics.left_image, self.topics.right_image)]
            pending: tuple[dict[int, tuple], dict[int, tuple]] = ({}, {})
            for connection, bag_time, raw in reader.messages(connections=wanted):
                side = 0 if connection.topic == self.topics.left_image else 1
                msg = self._typestore.deserialize_cdr(raw, connection.msgtype)
                stamp = stamp_ns(msg)
                other = pending[1 - side]
                partner = stamp if stamp in other else self._nearest(other, stamp)
                if partner is None:
                    pending[side][stamp] = (msg, bag_time, connection.topic)
                    self._trim(pending[side])
                    continue
                mine = (msg, bag_time, connection.topic)
                theirs = other.pop(partner)
                left, right = (mine, theirs) if side == 0 else (theirs, mine)
                pair = self._pair(left, right, infos)
                if pair is not None:
                    yield pair
            self.unpaired += len(pending[0]) + len(pending[1])

    def _nearest(self, candidates: dict[int, tuple], stamp: int) -> int | None:
        if not self.slop_ns or not candidates:
            return None
        best = min(candidates, key=lambda s: abs(s - stamp))
        return best if abs(best - stamp) <= self.slop_ns else None

    def _trim(self, pending: dict[int, tuple], keep: int = 50) -> None:
        while len(pending) > keep:
            pending.pop(min(pending))
            self.unpaired += 1

    def _pair(self, left: tuple, right: tuple, infos: dict | None) -> BagPair | None:
        (left_msg, bag_time, left_topic), (right_msg, _, right_topic) = left, right
        stamp = stamp_ns(left_msg)
        try:
            left_image = image_from_msg(left_msg, left_topic)
            right_image = image_from_msg(right_msg, right_topic)
            if left_image.shape[:2] != right_image.shape[:2]:
                raise BagError(f'left image is {left_image.shape[1]}x{left_image.shape[0]}, '
                               f'right {right_image.shape[1]}x{right_image.shape[0]}')
            if infos is None:
                calibration, frame_id = self.calibration, left_msg.header.frame_id
            else:
                calibration, frame_id = self._calibration_at(infos, stamp)
        except BagError as error:
            if 'give --calibration' in str(error) or 'camera_info pair' in str(error):
                raise
            self.skipped.append(f'stamp {stamp}: {error}')
            return None
        return BagPair(stamp, bag_time, left_image, right_image, calibration,
                       frame_id or left_msg.header.frame_id)


# --- writing depth --------------------------------------------------------------------------

class DepthBagWriter:
    """Writes depth, disparity and camera_info to a new rosbag2 folder (stamps as given)."""

    def __init__(self, path: str | Path, namespace: str = '', storage: str = 'sqlite3',
                 depth_format: str = '32FC1') -> None:
        """Create the bag; BagError when the folder exists or cannot be made."""
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f'{self.path} exists; give a new folder name (a rosbag2 bag is '
                           'written as a new folder)')
        if depth_format not in ('32FC1', '16UC1'):
            raise BagError(f'depth format {depth_format!r}: choose 32FC1 or 16UC1')
        rosbag2, self._typestore = _rosbags()
        plugin = rosbag2.StoragePlugin.MCAP if storage == 'mcap' else \
            rosbag2.StoragePlugin.SQLITE3
        self.depth_format = depth_format
        self.namespace = namespace.rstrip('/')
        self.topics = {'depth': f'{self.namespace}/depth/image_rect',
                       'disparity': f'{self.namespace}/disparity',
                       'info': f'{self.namespace}/depth/camera_info'}
        types = {'depth': 'sensor_msgs/msg/Image', 'disparity': 'stereo_msgs/msg/DisparityImage',
                 'info': INFO_TYPE}
        try:
            self._writer = rosbag2.Writer(self.path, version=9, storage_plugin=plugin)
            self._writer.open()
        except Exception as error:  # noqa: BLE001 - rosbags raises several kinds
            raise BagError(f'cannot create the bag {self.path}: {error}') from None
        self._connections = {key: self._writer.add_connection(topic, types[key],
                                                              typestore=self._typestore)
                             for key, topic in self.topics.items()}
        self.written = 0

    def _types(self, name: str) -> Any:
        return self._typestore.types[name]

    def _header(self, stamp: int, frame_id: str) -> Any:
        Time = self._types('builtin_interfaces/msg/Time')
        Header = self._types('std_msgs/msg/Header')
        return Header(stamp=Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
                      frame_id=frame_id)

    def _image(self, image: np.ndarray, encoding: str, header: Any) -> Any:
        Image = self._types('sensor_msgs/msg/Image')
        image = np.ascontiguousarray(image)
        return Image(header=header, height=image.shape[0], width=image.shape[1],
                     encoding=encoding, is_bigendian=0, step=image.shape[1] * image.itemsize,
                     data=image.view(np.uint8).ravel())

    def _info(self, model: CameraModel, header: Any) -> Any:
        CameraInfo = self._types('sensor_msgs/msg/CameraInfo')
        RegionOfInterest = self._types('sensor_msgs/msg/RegionOfInterest')
        return CameraInfo(header=header, height=model.height_px, width=model.width_px,
                          distortion_model=model.distortion_model,
                          d=model.D.astype(np.float64).ravel(), k=model.K.ravel(),
                          r=model.R.ravel(), p=model.P.ravel(), binning_x=0, binning_y=0,
                          roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0,
                                               do_rectify=False))

    def write(self, stamp: int, bag_time_ns: int, frame_id: str, depth_m: np.ndarray,
              disparity_px: np.ndarray, camera: CameraModel, disparity_range: Sequence[float],
              valid_window: Sequence[int], baseline_m: float) -> None:
        """Write one frame's depth (REP 118), disparity (as stereo_image_proc) and camera_info."""
        header = self._header(stamp, frame_id)
        if self.depth_format == '16UC1':
            depth = self._image(depth_m_to_mm_u16(depth_m), '16UC1', header)
        else:
            depth = self._image(depth_m.astype(np.float32), '32FC1', header)
        min_d, max_d = (float(v) for v in disparity_range)
        disparity = np.where(np.isfinite(disparity_px), disparity_px,
                             np.float32(min_d - 1)).astype(np.float32)
        height, width = disparity.shape
        x0, y0, x1, y1 = (int(v) for v in valid_window)
        x0, x1 = min(max(x0, 0), width), min(max(x1, 0), width)
        y0, y1 = min(max(y0, 0), height), min(max(y1, 0), height)
        RegionOfInterest = self._types('sensor_msgs/msg/RegionOfInterest')
        DisparityImage = self._types('stereo_msgs/msg/DisparityImage')
        disparity_msg = DisparityImage(
            header=header, image=self._image(disparity, '32FC1', header),
            f=float(camera.P[0, 0]), t=float(baseline_m),
            valid_window=RegionOfInterest(x_offset=x0, y_offset=y0, height=max(0, y1 - y0),
                                          width=max(0, x1 - x0), do_rectify=False),
            min_disparity=min_d, max_disparity=max_d, delta_d=1.0 / 16.0)
        for key, msg, msgtype in (
                ('depth', depth, 'sensor_msgs/msg/Image'),
                ('disparity', disparity_msg, 'stereo_msgs/msg/DisparityImage'),
                ('info', self._info(camera, header), INFO_TYPE)):
            self._writer.write(self._connections[key], int(bag_time_ns),
                               self._typestore.serialize_cdr(msg, msgtype))
        self.written += 1

    def close(self) -> None:
        """Finish the bag (metadata.yaml)."""
        self._writer.close()

    def __enter__(self) -> DepthBagWriter:
        """Use the writer as a context manager."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the bag."""
        self.close()


def read_messages(path: str | Path, topic: str) -> list[tuple[int, Any]]:
    """Return (bag time, message) of every message on `topic` (for tests and tools)."""
    rosbag2, typestore = _rosbags()
    with _open_reader(rosbag2, path) as reader:
        wanted = [c for c in reader.connections if c.topic == topic]
        return [(t, typestore.deserialize_cdr(raw, c.msgtype))
                for c, t, raw in reader.messages(connections=wanted)]


__all__ = ['BagError', 'BagPair', 'DepthBagWriter', 'StereoBagReader', 'StereoTopics',
           'bag_storage', 'bag_topics', 'camera_from_info', 'find_stereo_topics',
           'image_from_msg', 'read_messages', 'stamp_ns']
