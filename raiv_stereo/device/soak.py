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
Soak run (not a test): the real sender streams 1600x1300 BGR pairs to a StreamSource (loopback).

Reports, per codec: pairs/s received, latency from capture (sender clock = this host's) to the
pair being readable (median, p90, max), throughput, and resident memory of both ends.
Usage: python -m raiv_stereo.device.soak --seconds 20 --codec raw png jpeg [--rate-hz 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.eval.scene import Renderer
from raiv_stereo.sources.stream import StreamSource


def rss_mb(pid: int | str = 'self') -> tuple[float, float]:
    """Return (current, peak) resident memory in MB of a process, from /proc."""
    values = {}
    try:
        with open(f'/proc/{pid}/status') as status:
            for line in status:
                key, _, rest = line.partition(':')
                if key in ('VmRSS', 'VmHWM'):
                    values[key] = int(rest.split()[0]) / 1024.0
    except OSError:
        pass
    return values.get('VmRSS', float('nan')), values.get('VmHWM', float('nan'))


def write_pair(folder: str, width_px: int, height_px: int) -> tuple[str, str]:
    """Render the sample scene once at full size and save it as PNG (realistic texture)."""
    calibration = raiv_nominal().with_size(width_px, height_px)
    rendered = Renderer(calibration).render(0.0, with_truth=False)
    paths = os.path.join(folder, 'left.png'), os.path.join(folder, 'right.png')
    for path, image in zip(paths, (rendered.left_bgr, rendered.right_bgr), strict=True):
        cv2.imwrite(path, image)
    return paths


def self_signed(folder: str) -> tuple[str, str]:
    """Write a self-signed certificate for 127.0.0.1 and its key with openssl; return paths."""
    cert, key = os.path.join(folder, 'soak.pem'), os.path.join(folder, 'soak.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '1', '-subj', '/CN=soak', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def soak(codec: str, seconds: float, rate_hz: float, pair: tuple[str, str],
         tls: tuple[str, str] | None = None) -> dict[str, float]:
    """Stream for `seconds` with one codec (TLS with a (cert, key) pair); return the figures."""
    source = StreamSource(host='127.0.0.1', port=0, timeout_s=5.0, token='soak',
                          **({'tls_cert': tls[0], 'tls_key': tls[1]} if tls else {}))
    sender = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.device.sender', '--from-files', *pair, '--loop',
         '--codec', codec, '--rate-hz', str(rate_hz), '--host', '127.0.0.1',
         '--port', str(source.address[1]), '--token', 'soak', '-q'] +
        (['--tls-ca', tls[0]] if tls else []))
    latencies_ms: list[float] = []
    sender_rss = (float('nan'), float('nan'))
    try:
        deadline = time.monotonic() + 30.0
        while source.counters['frames_received'] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        source.read()
        first = dict(source.counters)
        rss_start_mb = rss_mb()[0]
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            frame = source.read()
            if frame is None:
                time.sleep(0.001)
                continue
            latencies_ms.append((time.time_ns() - source.last_device_time_ns) / 1e6)
        elapsed_s = time.monotonic() - start
        rss_end_mb = rss_mb()[0]
        sender_rss = rss_mb(sender.pid)
        received = source.counters['frames_received'] - first.get('frames_received', 0)
        megabytes = (source.counters['bytes_received'] - first.get('bytes_received', 0)) / 1e6
        errors = source.counters['protocol_errors'] + source.counters['timeouts']
    finally:
        sender.terminate()
        sender.wait(timeout=5.0)
        source.close()
    receiver_rss = rss_start_mb, rss_end_mb
    latency = np.array(latencies_ms) if latencies_ms else np.array([np.nan])
    return {'fps': received / elapsed_s, 'read_fps': len(latencies_ms) / elapsed_s,
            'mb_per_frame': megabytes / max(received, 1), 'mb_s': megabytes / elapsed_s,
            'lat_median_ms': float(np.median(latency)),
            'lat_p90_ms': float(np.percentile(latency, 90)), 'lat_max_ms': float(latency.max()),
            'receiver_start_mb': receiver_rss[0], 'receiver_end_mb': receiver_rss[1],
            'sender_rss_mb': sender_rss[0], 'sender_peak_mb': sender_rss[1],
            'errors': errors}


def main(argv: list[str] | None = None) -> int:
    """Run the soak for each codec and print one line of figures per codec."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0)
    parser.add_argument('--codec', nargs='+', default=['raw', 'png', 'jpeg'],
                        choices=('raw', 'png', 'jpeg'))
    parser.add_argument('--rate-hz', type=float, default=0.0, help='sender rate (0 = max)')
    parser.add_argument('--width', type=int, default=1600)
    parser.add_argument('--height', type=int, default=1300)
    parser.add_argument('--tls', action='store_true',
                        help='stream over TLS (a self-signed certificate made with openssl)')
    args = parser.parse_args(argv)
    # the sender is stopped mid-frame at the end of each run: that reset is expected, not news
    logging.getLogger('raiv_stereo.stream').setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        pair = write_pair(folder, args.width, args.height)
        tls = self_signed(folder) if args.tls else None
        print(f'{args.width}x{args.height} BGR pairs over loopback{" (TLS)" if tls else ""}, '
              f'{args.seconds:g} s per codec, '
              f'sender rate {"max" if args.rate_hz <= 0 else f"{args.rate_hz:g} Hz"}, '
              f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}')
        print('| codec | pairs/s | MB/pair | MB/s | latency median ms | p90 ms | max ms | '
              'receiver RSS MB start -> end | sender RSS MB (peak) | errors |')
        print('|---|---|---|---|---|---|---|---|---|---|')
        for codec in args.codec:
            r = soak(codec, args.seconds, args.rate_hz, pair, tls)
            print(f"| {codec} | {r['fps']:.1f} | {r['mb_per_frame']:.2f} | {r['mb_s']:.0f} | "
                  f"{r['lat_median_ms']:.1f} | {r['lat_p90_ms']:.1f} | {r['lat_max_ms']:.1f} | "
                  f"{r['receiver_start_mb']:.0f} -> {r['receiver_end_mb']:.0f} | "
                  f"{r['sender_rss_mb']:.0f} ({r['sender_peak_mb']:.0f}) | {r['errors']} |",
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
