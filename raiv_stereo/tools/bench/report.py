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

"""The bench report: Markdown tables and plots (OpenCV drawing, no new dependency)."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
import platform

import cv2
import numpy as np
from raiv_stereo.eval.metrics import band_label, BANDS_M
from raiv_stereo.tools.bench.pipeline import STAGE_RATE_HZ, SUSTAINED_SHARE


def family_table(family: dict) -> list[str]:
    """Return the family section as Markdown: overall figures, then per depth band."""
    seeds = family['seeds']
    lines = ['## 3c. Evaluation family: unseen scenes (mean / worst over seeds '
             f'{seeds[0]}-{seeds[-1]}, {len(seeds)} scenes)', '',
             'Each seed (eval/scene.py family_case): its own distorted, misaligned rig, '
             'back wall 2.3-2.95 m, tilted floor, boxes and a slanted panel, near card; '
             'textures from noise, aliasing octaves, smooth low-contrast, '
             + ('stereo_data photo crops' if family['photos'] else
                'photo crops (stereo_data absent: noise instead)') +
             ', stripes; gain 0.9-1.1, offset, noise sigma 0.5-4, vignetting, defocus. '
             '1600x1300 bgr8 -> scale 0.5, 300-3000 mm, judged inside the valid window. '
             'Locking: spread % = variation of the histogram of fractional disparities on '
             "slanted surfaces relative to the truth's (0 = flat); swing px = peak-to-peak of "
             "the median error over the truth's fractional part. Time: median over scenes of "
             f'the ratio to the first row, same process, load {family["load"]:.1f}.', '',
             '| method | time vs OpenCV | complete % | within 1 % | within 2 % | within 5 % '
             '| median signed % | locking spread % | locking swing px |',
             '|---|---|---|---|---|---|---|---|---|']

    def pair(row: dict, key: str, scale: float = 100.0, digits: int = 1) -> str:
        return (f'{_f(scale * row["mean"][key], digits)} / '
                f'{_f(scale * row["worst"][key], digits)}')
    for row in family['rows']:
        lines.append(f'| {row["method"]} | {_f(row["ratio"], 2)} | {pair(row, "completeness")} '
                     f'| {pair(row, "within_1pct")} | {pair(row, "within_2pct")} '
                     f'| {pair(row, "within_5pct")} | {pair(row, "median_signed_pct", 1, 2)} '
                     f'| {pair(row, "spread_pct", 1)} | {pair(row, "swing_px", 1, 3)} |')
    labels = [band_label(band) for band in BANDS_M]
    lines += ['', 'Per depth band (mean / worst over the scenes that have it): within 2 %, '
              'median signed error %.', '',
              '| method | ' + ' | '.join(f'{label} within 2 % | {label} median %'
                                         for label in labels) + ' |',
              '|---' * (1 + 2 * len(labels)) + '|']
    for row in family['rows']:
        cells = []
        for label in labels:
            band = row['bands'].get(label)
            if band is None:
                cells += ['n/a', 'n/a']
                continue
            cells.append(f'{_f(100 * band["within_2pct_mean"])} / '
                         f'{_f(100 * band["within_2pct_worst"])}')
            cells.append(f'{_f(band["median_signed_pct_mean"], 2)} / '
                         f'{_f(band["median_signed_pct_worst"], 2)}')
        lines.append(f'| {row["method"]} | ' + ' | '.join(cells) + ' |')
    return lines + ['']


def stages_markdown(rows: list[dict]) -> list[str]:
    """Return section 2b: the per-process summary and the per-stage table, one column a run."""
    if not rows:
        return []
    head = '| | ' + ' | '.join(row['label'] for row in rows) + ' |'
    rule = '|---' * (len(rows) + 1) + '|'
    lines = [f'## 2b. Per process and per stage: two processes, camera at '
             f'{STAGE_RATE_HZ:g} Hz replaying 1600x1300 bgr8, launch arguments otherwise '
             'default (300-3000 mm, scale 0.5)', '',
             "Rates from the span of the messages' camera stamps. "
             'Mean ms per published pair (camera) and per processed pair (depth node); plain '
             'OpenCV reads the 1600x1300 pair, our core alone the images the depth node '
             'receives, both timed just before and after the run.', '', head, rule]

    def line(name: str, cells: list[str]) -> None:
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')

    line('depth fps / camera fps', [f'{_f(r["fps"])} / {_f(r["camera_fps"])}' for r in rows])
    line('depth fps vs plain OpenCV', [f'{_f(r["fps_vs_opencv"], 2)}x ({_f(r["opencv_fps"])} '
                                       'fps)' for r in rows])
    line('pairs lost (not turned into depth)', [f'{_f(100 * r["lost_share"], 0)} %'
                                                for r in rows])
    line('latency median / p90 ms', [f'{_f(r["latency_median_ms"], 0)} / '
                                     f'{_f(r["latency_p90_ms"], 0)}' for r in rows])
    line('p90 latency in frame periods', [_f(r['latency_p90_periods'], 2) for r in rows])
    line('core in the node / alone ms', [f'{_f(r["core_in_node_ms"])} / {_f(r["ours_ms"])} = '
                                         f'{_f(r["core_vs_alone"], 2)}x' for r in rows])
    line('camera process CPU %', [_f(100 * r['camera_cpu_share'], 0) for r in rows])
    line('camera process CPU ms per pair', [_f(r['camera_cpu_ms_per_pair']) for r in rows])
    line('depth process CPU % (depth node + monitor)',
         [_f(100 * r['cpu_share'], 0) for r in rows])
    line('load (1 min)', [_f(r['load']) for r in rows])
    line(f'camera at {100 * SUSTAINED_SHARE:.0f} % of the sustained rate: Hz asked, depth fps',
         [f'{r["sustained"]["rate_hz"]:g}, {_f(r["sustained"]["fps"])}' for r in rows])
    line('... there: p90 latency in frame periods, pairs lost, core in the node / alone',
         [f'{_f(r["sustained"]["latency_p90_periods"], 2)}, '
          f'{_f(100 * r["sustained"]["lost_share"], 0)} %, '
          f'{_f(r["sustained"]["core_vs_alone"], 2)}x' for r in rows])
    for process, key in (('camera node', 'camera_stages'), ('depth node', 'depth_stages')):
        names = list(dict.fromkeys(name for r in rows for name in r[key] if name != 'pairs'))
        line(f'**{process}** (pairs measured)', [_f(r[key].get('pairs', 0.0), 0)
                                                 for r in rows])
        for name in names:
            line(name, [_f(r[key].get(name, float('nan')), 2) for r in rows])
    return lines + ['']


def machine() -> dict[str, str]:
    """Return the machine the figures come from."""
    model = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return {'cpus': str(os.cpu_count()), 'cpu_model': model, 'opencv': cv2.__version__,
            'opencv_threads': str(cv2.getNumThreads()), 'python': platform.python_version(),
            'wls_available': str(hasattr(cv2, 'ximgproc'))}


def _f(value: float, digits: int = 1) -> str:
    return 'n/a' if value is None or not np.isfinite(value) else f'{value:.{digits}f}'


def markdown(report: dict) -> str:
    """Return the whole report as Markdown tables."""
    info = report['machine']
    lines = ['# raiv-stereo bench', '',
             f'Machine: {info["cpus"]} CPUs ({info["cpu_model"]}), OpenCV {info["opencv"]} '
             f'({info["opencv_threads"]} threads), Python {info["python"]}. Input: the sample '
             'scene rendered through a distorted, slightly misaligned RAiV rig (2.8 mm lens, '
             '65 mm baseline), 1600x1300. Plain OpenCV = remap at full size (maps from '
             'initUndistortRectifyMap) -> resize -> StereoSGBM on the input as it is (colour '
             'for bgr8, grey for mono8) -> f·B/d. Ours = StereoPipeline (grey, area-downscale '
             'then remap, SGBM on the edge-padded pair, normalised Lucas-Kanade sub-pixel steps); '
             "ours, SGBM sub-pixel = the same matcher with SGBM's own sub-pixel fit and the "
             'rectification order it had before the refinement (remap at full size, then '
             'area-downscale). CPU = process CPU time '
             '/ wall time (200 % = both cores). load = 1-minute load average when measured '
             '(other work on the machine; the two methods are timed frame by frame in turn so '
             'both see it alike).', '']
    if report.get('command'):
        lines += [f'Made by `{report["command"]}` (OpenCV {info["opencv"]}).', '']
    if report.get('configurations'):
        lines += summary_table(report['configurations'])
    if report.get('speed'):
        lines += ['## 1. Speed, same frames, one process', '',
                  '| scale | range mm | disp. | mode | input | OpenCV ms med/p90 | OpenCV fps '
                  '| ours ms med/p90 | ours fps | ours/OpenCV time '
                  '| ours, SGBM sub-pixel ms / fps '
                  '| SGBM sub-pixel/OpenCV time | CPU % OpenCV/ours | peak RSS MB OpenCV/ours '
                  '| load |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in report['speed']:
            o, u = row['opencv'], row['ours']
            lines.append(
                f'| {row["scale"]:g} | {row["min_depth_mm"]:g}-{row["max_depth_mm"]:g} | '
                f'{row["num_disparities"]} | {row["mode"]} | {row["encoding"]} | '
                f'{_f(o["median_ms"])}/{_f(o["p90_ms"])} | {_f(o["fps"])} | '
                f'{_f(u["median_ms"])}/{_f(u["p90_ms"])} | {_f(u["fps"])} | '
                f'{_f(row["ratio"], 2)} | {_f(row["ours_before"]["median_ms"])} / '
                f'{_f(row["ours_before"]["fps"])} | {_f(row["before_ratio"], 2)} | '
                f'{_f(100 * o["cpu_share"], 0)}/'
                f'{_f(100 * u["cpu_share"], 0)} | {_f(o["peak_rss_mb"], 0)}/'
                f'{_f(u["peak_rss_mb"], 0)} | {_f(row["load"])} |')
        lines.append('')
    if report.get('pipeline'):
        lines += ['## 2. Node pipeline over DDS (camera node -> depth node -> subscriber), '
                  '1600x1300 -> 0.5, 300-3000 mm, launch-file parameters', '',
                  '| layout | sgbm_resolution | input | camera | camera rate asked | camera fps '
                  '| depth fps | latency ms med/p90 | p90 latency / frame period '
                  '| depth node ms med/p90 | dropped | CPU % | peak RSS MB '
                  '| load | plain OpenCV fps / our core fps (same input, same minutes) '
                  '| pipeline / OpenCV fps |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in report['pipeline']:
            lines.append(
                f'| {row["layout"]} | {row["sgbm_resolution"]} | '
                f'{row["encoding"]} | {row["camera"]} | '
                f'{row["rate_hz"]:g} Hz ({row["rate_vs_opencv"]:g}x OpenCV) | '
                f'{_f(row["camera_fps"])} | {_f(row["fps"])} | '
                f'{_f(row["latency_median_ms"], 0)}/{_f(row["latency_p90_ms"], 0)} | '
                f'{_f(row["latency_p90_periods"], 2)} | '
                f'{_f(row["processing_median_ms"])}/{_f(row["processing_p90_ms"])} | '
                f'{row["dropped"]} | {_f(100 * row["cpu_share"], 0)} | '
                f'{_f(row["peak_rss_mb"], 0)} | {_f(row["load"])} | '
                f'{_f(row["opencv_fps"])} / {_f(row["ours_fps"])} | '
                f'{_f(100 * row.get("fps_vs_opencv", float("nan")), 0)} % |')
        lines.append('')
    lines += stages_markdown(report.get('pipeline_stages', []))
    synthetic = report.get('synthetic', [])
    if synthetic:
        lines += ['## 3a. Accuracy on the distorted synthetic rig (truth = exact scene depth; '
                  'pixels with truth in range, inside the valid window)', '',
                  '| scale | range mm | input | method | completeness % | within 1 % | '
                  'within 2 % | within 5 % | median err mm | bad-1 % | bad-2 % | bad-4 % |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in synthetic:
            for name, label in (('opencv', f'plain OpenCV ({row["encoding"]})'),
                                ('opencv_grey', 'plain OpenCV (grey)'),
                                ('ours_before', 'ours, SGBM sub-pixel (full-size remap)'),
                                ('ours', 'ours (area, remap, SGBM, refine)')):
                if name not in row:
                    continue
                a = row[name]
                lines.append(
                    f'| {row["scale"]:g} | {row["min_depth_mm"]:g}-{row["max_depth_mm"]:g} | '
                    f'{row["encoding"]} | {label} | {_f(100 * a["completeness"])} | '
                    f'{_f(100 * a["within_1pct"])} | {_f(100 * a["within_2pct"])} | '
                    f'{_f(100 * a["within_5pct"])} | {_f(a["median_error_mm"])} | '
                    f'{_f(a["bad-1"])} | {_f(a["bad-2"])} | {_f(a["bad-4"])} |')
        lines.append('')
    if report.get('family'):
        lines += family_table(report['family'])
    if report.get('datasets'):
        lines += ['## 3b. Accuracy on stereo_data (rectified pairs; bad-N % of known pixels, '
                  'missing = bad)', '',
                  '| scene | disp. | OpenCV colour bad-1/2/4 | density | ms '
                  '| OpenCV grey bad-1/2/4 | density | ours bad-1/2/4 | density | ms '
                  '| ours, SGBM sub-pixel bad-1/2/4 | ms |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in report['datasets']:
            cells = [row['scene'], str(row['num_disparities'])]
            for name, with_ms in (('opencv', True), ('opencv_grey', False), ('ours', True),
                                  ('ours_before', True)):
                r = row[name]
                cells.append(f'{_f(r["bad-1"])}/{_f(r["bad-2"])}/{_f(r["bad-4"])}')
                if name != 'ours_before':
                    cells.append(_f(r['density']))
                if with_ms:
                    cells.append(_f(r['ms'], 0))
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines += ['', 'WLS post-filter row: not measured, cv2.ximgproc is not available '
                  '(install opencv-contrib-python-headless, as the noros extra does).'
                  if info['wls_available'] != 'True' else '', '']
    if report.get('size'):
        lines += ['## 4a. Time vs input size (scale 0.5, 300-3000 mm, mono8, sgbm_3way)', '',
                  '| input | disp. | OpenCV ms | ours ms | ours/OpenCV |', '|---|---|---|---|---|']
        for row in report['size']:
            lines.append(f'| {row["input"]} | {row["num_disparities"]} | '
                         f'{_f(row["opencv"]["median_ms"])} | {_f(row["ours"]["median_ms"])} | '
                         f'{_f(row["ours"]["median_ms"] / row["opencv"]["median_ms"], 2)} |')
        lines.append('')
    if report.get('window'):
        lines += ['## 4b. Time vs search window (numDisparities; 1600x1300 -> 0.5, mono8, '
                  'sgbm_3way) - plot time_vs_window.png', '',
                  '| numDisparities | OpenCV ms | ours ms | ours match ms |', '|---|---|---|---|']
        for row in report['window']:
            lines.append(f'| {row["num_disparities"]} | {_f(row["opencv"]["median_ms"])} | '
                         f'{_f(row["ours"]["median_ms"])} | {_f(row["ours_match_ms"])} |')
        lines.append('')
    if report.get('stages'):
        lines += ['## 4c. Where the time goes (1600x1300 bgr8 -> 0.5, 300-3000 mm, ms median)',
                  '', '| stage | ms |', '|---|---|']
        for name, value in report['stages'].items():
            lines.append(f'| {name} | {_f(value, 2)} |')
        lines.append('')
    for note in report.get('notes', []):
        lines.append(f'- {note}')
    return '\n'.join(lines) + '\n'


def _short_scene(name: str) -> str:
    """Return 'kitti12 #1' for kitti2012/000001_10, else the scene's own name ('tsukuba')."""
    dataset, scene = name.split('/')
    if dataset.startswith('kitti'):
        return f'kitti{dataset[-2:]} #{int(scene.split("_")[0])}'
    return scene


def summary_table(rows: list[dict]) -> list[str]:
    """Return section 0: per configuration, time against plain OpenCV and every accuracy figure."""
    scenes = list(rows[0]['bad2']) if rows else []
    short = [_short_scene(name) for name in scenes]
    lines = ['## 0. Configurations: speed and accuracy in one table', '',
             'Rig: 1600x1300 bgr8 -> scale 0.5, 300-3000 mm, every configuration timed frame by '
             'frame in turn; time ratio against plain OpenCV with our SGBM settings; implied '
             'fps = 1000 / ms (one core process, no DDS); completeness and within 1/2 % of the '
             'true depth inside the valid window. bad-2 % (missing = bad) on each stereo_data '
             'scene at its own size; "below OpenCV" counts the scenes where it is below both '
             'plain OpenCV rows. Plot: pareto.png.', '',
             '| configuration | ms | time vs OpenCV | implied fps | complete % | within 1 % '
             '| within 2 % | ' + ' | '.join(f'bad-2 {name}' for name in short) +
             ' | mean bad-2 | below OpenCV |',
             '|---' * (9 + len(scenes)) + '|']
    for row in rows:
        lines.append(
            f'| {row["config"]} | {_f(row["ms"])} | {_f(row["ratio"], 2)} | {_f(row["fps"])} | '
            f'{_f(100 * row["completeness"])} | {_f(100 * row["within_1pct"])} | '
            f'{_f(100 * row["within_2pct"])} | ' +
            ' | '.join(_f(row['bad2'][name]) for name in scenes) +
            (' | ' if scenes else '') + f'{_f(row["mean_bad2"], 2)} | '
            f'{row["scenes_below_opencv"] if scenes else "n/a"}'
            f'{f" of {len(scenes)}" if scenes and row["kind"] == "ours" else ""} |')
    return lines + ['']


_COLOURS = [(40, 40, 220), (200, 120, 20), (30, 160, 30), (150, 40, 150)]


def line_plot(path: Path, title: str, x_label: str, y_label: str,
              series: dict[str, tuple[list[float], list[float]]]) -> None:
    """Draw `series` (name -> (x, y)) as a line plot with axes and a legend into a PNG."""
    width, height, margin = 800, 520, 70
    image = np.full((height, width, 3), 255, np.uint8)
    xs = [x for values in series.values() for x, y in zip(*values, strict=True)
          if np.isfinite(y)]
    ys = [y for values in series.values() for y in values[1] if np.isfinite(y)]
    if not xs:
        xs, ys = [0.0, 1.0], [0.0, 1.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1.0
    y0, y1 = 0.0, max(ys) * 1.1 if max(ys) > 0 else 1.0

    def point(x: float, y: float) -> tuple[int, int]:
        return (int(margin + (x - x0) / (x1 - x0) * (width - 2 * margin)),
                int(height - margin - (y - y0) / (y1 - y0) * (height - 2 * margin)))

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(image, point(x0, y0), point(x1, y1), (0, 0, 0), 1)
    for i in range(6):
        x = x0 + (x1 - x0) * i / 5
        y = y0 + (y1 - y0) * i / 5
        px, _ = point(x, y0)
        _, py = point(x0, y)
        cv2.line(image, (px, height - margin), (px, height - margin + 5), (0, 0, 0), 1)
        cv2.putText(image, f'{x:.3g}', (px - 15, height - margin + 20), font, 0.4, (0, 0, 0), 1)
        cv2.line(image, (margin - 5, py), (margin, py), (0, 0, 0), 1)
        cv2.putText(image, f'{y:.3g}', (5, py + 4), font, 0.4, (0, 0, 0), 1)
    cv2.putText(image, title, (margin, 30), font, 0.6, (0, 0, 0), 1)
    cv2.putText(image, x_label, (width // 2 - 60, height - 20), font, 0.5, (0, 0, 0), 1)
    cv2.putText(image, y_label, (5, margin - 15), font, 0.5, (0, 0, 0), 1)
    for index, (x_values, y_values) in enumerate(series.values()):
        colour = _COLOURS[index % len(_COLOURS)]
        points = [point(x, y) for x, y in zip(x_values, y_values, strict=True)
                  if np.isfinite(y)]
        for a, b in itertools.pairwise(points):
            cv2.line(image, a, b, colour, 2, cv2.LINE_AA)
        for p in points:
            cv2.circle(image, p, 4, colour, -1, cv2.LINE_AA)
    # The legend below the axes, never over the lines: one entry per series with its colour.
    legend = np.full((20 * len(series) + 10, width, 3), 255, np.uint8)
    for index, name in enumerate(series):
        colour = _COLOURS[index % len(_COLOURS)]
        y = 20 * index + 14
        cv2.line(legend, (margin, y - 4), (margin + 30, y - 4), colour, 2, cv2.LINE_AA)
        cv2.circle(legend, (margin + 15, y - 4), 4, colour, -1, cv2.LINE_AA)
        cv2.putText(legend, name, (margin + 40, y), font, 0.5, colour, 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack([image, legend]))


def pareto_plot(path: Path, rows: list[dict]) -> None:
    """
    Draw time against accuracy per configuration, the better-in-both front joined (pareto.png).

    Left: mean bad-2 on stereo_data (lower is better); right: within 1 % on the rig (higher).
    """
    panel_w, height, margin = 560, 520, 70
    # One panel per measured accuracy: without stereo_data there is no bad-2, and no empty half.
    panels = [(key, label, lower_better, scale) for key, label, lower_better, scale in (
        ('mean_bad2', 'mean bad-2 % (stereo_data)', True, 1.0),
        ('within_1pct', 'within 1 % of true depth (rig) %', False, 100.0))
        if rows and all(np.isfinite(row[key]) for row in rows)]
    image = np.full((height, max(len(panels), 1) * panel_w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, 'Time per pair (rig, 1600x1300 -> 0.5) vs accuracy; front joined',
                (margin, 25), font, 0.5, (0, 0, 0), 1)
    if not panels:
        cv2.putText(image, 'no accuracy measured', (margin, height // 2), font, 0.6,
                    (0, 0, 0), 1)
    times = [row['ms'] for row in rows]
    for panel, (key, label, lower_better, scale) in enumerate(panels):
        values = [row[key] * scale for row in rows]
        left = panel * panel_w
        x0, x1 = 0.0, max(times) * 1.1
        y0, y1 = 0.0, max(values) * 1.15

        def point(x: float, y: float, left: int = left, x1: float = x1,
                  y1: float = y1) -> tuple[int, int]:
            return (int(left + margin + x / x1 * (panel_w - 2 * margin)),
                    int(height - margin - y / y1 * (height - 2 * margin)))

        cv2.rectangle(image, point(x0, y0), point(x1, y1), (0, 0, 0), 1)
        for i in range(6):
            px, _ = point(x1 * i / 5, 0)
            _, py = point(0, y1 * i / 5)
            cv2.putText(image, f'{x1 * i / 5:.0f}', (px - 10, height - margin + 18), font, 0.4,
                        (0, 0, 0), 1)
            cv2.putText(image, f'{y1 * i / 5:.0f}', (left + 30, py + 4), font, 0.4, (0, 0, 0), 1)
        cv2.putText(image, 'ms per pair', (left + panel_w // 2 - 40, height - 25), font, 0.5,
                    (0, 0, 0), 1)
        cv2.putText(image, label, (left + margin, margin - 15), font, 0.5, (0, 0, 0), 1)
        better = (lambda a, b: a <= b) if lower_better else (lambda a, b: a >= b)
        front = sorted((t, v) for t, v in zip(times, values, strict=True)
                       if not any(t2 <= t and better(v2, v) and (t2, v2) != (t, v)
                                  for t2, v2 in zip(times, values, strict=True)))
        for a, b in itertools.pairwise(front):
            cv2.line(image, point(*a), point(*b), (160, 160, 160), 2, cv2.LINE_AA)
        for index, (row, t, v) in enumerate(zip(rows, times, values, strict=True)):
            colour = (40, 40, 220) if row['kind'] == 'opencv' else _COLOURS[1 + index % 3]
            cv2.circle(image, point(t, v), 5, colour, -1, cv2.LINE_AA)
            x, y = point(t, v)
            cv2.putText(image, str(index + 1), (x + 7, y - 5), font, 0.45, colour, 1)
    legend = np.full((18 * len(rows) + 10, image.shape[1], 3), 255, np.uint8)
    for index, row in enumerate(rows):
        cv2.putText(legend, f'{index + 1}: {row["config"]}', (margin, 18 * index + 16), font, 0.45,
                    (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack([image, legend]))


def write_plots(report: dict, out: Path) -> list[Path]:
    """Write pareto.png, time_vs_window.png and error_vs_depth.png from the report."""
    files = []
    if report.get('configurations'):
        path = out / 'pareto.png'
        pareto_plot(path, report['configurations'])
        files.append(path)
    if report.get('window'):
        windows = [row['num_disparities'] for row in report['window']]
        path = out / 'time_vs_window.png'
        line_plot(path, 'Time per frame vs search window (1600x1300 -> 0.5, mono8)',
                  'numDisparities', 'ms per frame', {
                      'plain OpenCV (total)': (windows, [r['opencv']['median_ms']
                                                         for r in report['window']]),
                      'ours (total)': (windows, [r['ours']['median_ms']
                                                 for r in report['window']]),
                      'ours (match only)': (windows, [r['ours_match_ms']
                                                      for r in report['window']])})
        files.append(path)
    if report.get('synthetic'):
        row = report['synthetic'][0]
        centres = row['bin_centres_m']
        path = out / 'error_vs_depth.png'
        line_plot(path, f'Median depth error vs depth (synthetic rig, scale {row["scale"]:g})',
                  'true depth (m)', 'median |error| %', {
                      'plain OpenCV': (centres, row['opencv']['median_error_pct_by_bin']),
                      'ours': (centres, row['ours']['median_error_pct_by_bin']),
                      **({'plain OpenCV (grey)': (
                          centres, row['opencv_grey']['median_error_pct_by_bin'])}
                         if 'opencv_grey' in row else {})})
        files.append(path)
    return files


def write_report(report: dict, out: Path) -> list[Path]:
    """Write bench.md, bench.json and the plots into `out`; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    files = write_plots(report, out)
    (out / 'bench.md').write_text(markdown(report))
    (out / 'bench.json').write_text(json.dumps(report, indent=1, default=float))
    return [*files, out / 'bench.md', out / 'bench.json']
