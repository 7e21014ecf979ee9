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
Why stereo inputs do not pair: plain words from arrival times and stamps (no ROS import).

The depth node records, per input topic, when messages arrived and their stamps; this module
turns that record into one error line with the likely cause and what to change, so the logic
is unit-tested without DDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

RECENT_S = 10.0
"""Longest span of arrivals a diagnosis looks at, s."""
SILENT_INPUT_FACTOR = 10.0
"""No input at all is reported only this many warning periods after the start (slow starts)."""
LOSSY_RATE_RATIO = 0.6
"""Topics arriving at less than this share of the fastest topic's rate are losing messages."""


@dataclass(frozen=True)
class TopicState:
    """What the node knows about one input topic."""

    name: str
    """Resolved topic name."""
    arrivals: Sequence[tuple[float, int]]
    """(arrival monotonic s, header stamp ns) of the latest messages, oldest first."""
    reliable: bool = True
    """True when this node's subscription is reliable (the default; qos_overrides may say not)."""
    publishers: Sequence[str] | None = None
    """Reliability of each publisher ('reliable', 'best_effort'); None when unknown."""


@dataclass(frozen=True)
class Diagnosis:
    """One problem: `kind` is its throttle key, `message` the line to log."""

    kind: str
    message: str


def diagnose_sync(topics: Sequence[TopicState], now_s: float, waited_s: float,
                  running_s: float, sync: str, slop_s: float, warning_s: float,
                  busy: tuple[str, float] | None = None) -> Diagnosis | None:
    """
    Return why no pair has synced for `waited_s` seconds, or None when it is too early to say.

    `topics` are the left image, right image, left camera_info and right camera_info, in that
    order; `running_s` is the node's age; `busy` is (what, since monotonic s) when the worker
    is still on one pair, which then explains the silence.
    """
    if waited_s < warning_s:
        return None
    if busy is not None and now_s - busy[1] >= warning_s:
        what, since_s = busy
        return Diagnosis('busy', f'busy with a large pair ({what}) for {now_s - since_s:.0f} s; '
                         'newer pairs wait and only the newest is processed next (send smaller '
                         'images or lower scale for faster output)')
    span_s = min(waited_s, RECENT_S)
    recent = [[(arrival, stamp) for arrival, stamp in t.arrivals if now_s - arrival <= span_s]
              for t in topics]
    rates = [len(r) / span_s for r in recent]
    names = [t.name for t in topics]
    if not any(rates):
        unserved = [t.name for t in topics if qos_mismatch(t)]
        if unserved:
            return Diagnosis('qos mismatch', (
                f'no messages on any input topic for {waited_s:.0f} s: '
                f'{", ".join(unserved)} {"has" if len(unserved) == 1 else "have"} best-effort '
                'publishers only, and this node subscribes reliably (its default): a QoS '
                'mismatch, DDS delivers nothing. Subscribe best-effort: launch argument '
                'input_qos:=best_effort, or the node parameter qos_overrides.<topic>.'
                'subscription.reliability:=best_effort for each input topic (or publish '
                'reliably).'))
        if running_s <= SILENT_INPUT_FACTOR * warning_s:
            return None
        if any(t.publishers for t in topics):  # a publisher that sends nothing (yet)
            return Diagnosis('no input', f'no messages on any input topic for {waited_s:.0f} s: '
                             + '; '.join(f'{t.name}: {publisher_text(t)}' for t in topics)
                             + '. A camera node publishes once its source delivers frames (a '
                             'stream source waits for its sender): see its log.')
        return Diagnosis('no input', f'no messages on any input topic for {waited_s:.0f} s '
                         f'({", ".join(names)}); is the camera node running in this '
                         'namespace?')
    parts = [f'{t.name} is silent ({publisher_text(t)})'
             for t, rate in zip(topics, rates, strict=True) if rate == 0]
    hints = []
    arriving = [rate for rate in rates if rate > 0]
    lossy = len(arriving) > 1 and min(arriving) < LOSSY_RATE_RATIO * max(arriving)
    if lossy:
        parts.append('messages are lost on the way (' + ', '.join(
            f'{name} {rate:.1f} Hz' for name, rate in zip(names, rates, strict=True)
            if rate > 0) + ')')
        if all(t.reliable for t in topics):
            hints.append('A reliable subscription still drops what its keep-last queue cannot '
                         'hold: raise qos_overrides.<topic>.subscription.depth, or send fewer, '
                         'smaller or mono8 images.')
        else:
            hints.append('Large images over best-effort lose whole messages when a fragment is '
                         'lost: subscribe reliably (the default: drop input_qos:=best_effort or '
                         'the qos_overrides.<topic>.subscription.reliability that sets it), '
                         'raise net.core.rmem_max, or send smaller or mono8 images.')
    stamps = [[stamp for _, stamp in r] for r in recent]
    if stamps[0] and stamps[1]:
        # Both cameras arrive: the best-matching recent left/right stamps show an offset.
        closest = [min(abs(left - right) for right in stamps[1]) for left in stamps[0][-10:]]
        offset_ms = min(closest) / 1e6
        parts.append(f'the left/right image stamps are {offset_ms:.3f} ms apart (closest '
                     'pairs)')
        period_ms = 1000.0 / max(arriving)
        if lossy and offset_ms >= 0.5 * period_ms:
            pass  # whole frames apart: the partners were lost, the stamps may be fine
        elif offset_ms > 0 and sync == 'exact':
            hints.append('Exact sync needs identical stamps: set sync:=approximate with '
                         f'sync_slop_s above {offset_ms / 1000.0 * 1.5:.4f}, or stamp both '
                         'images with one capture time.')
        elif offset_ms > 0 and sync == 'approximate' and offset_ms / 1000.0 >= slop_s:
            hints.append(f'That is beyond sync_slop_s ({slop_s:g} s): raise it above '
                         f'{offset_ms / 1000.0 * 1.5:.4f}.')
        for index, side in ((2, 'left'), (3, 'right')):
            if stamps[index] and not set(stamps[index]) & set(stamps[index - 2]) and \
                    not lossy and sync == 'exact':
                parts.append(f'no {side} camera_info stamp equals a {side} image stamp')
                hints.append("Stamp each CameraInfo with its image's stamp.")
    return Diagnosis('no sync', f'no synchronized stereo pair for {waited_s:.1f} s although '
                     f'messages arrive: {"; ".join(parts)}. {" ".join(hints)}'.rstrip())


def qos_mismatch(topic: TopicState) -> bool:
    """Return True when this reliable subscription has publishers and all are best-effort."""
    return topic.reliable and bool(topic.publishers) and \
        set(topic.publishers) == {'best_effort'}


def publisher_text(topic: TopicState) -> str:
    """Describe a silent topic's publishers and whether their QoS can match this node's."""
    if topic.publishers is None:
        return 'publishers unknown'
    if not topic.publishers:
        return 'no publisher: check the topic name, namespace and remappings'
    kinds = sorted(set(topic.publishers))
    text = f'{len(topic.publishers)} publisher(s), {"/".join(kinds)}'
    if topic.reliable and 'best_effort' in kinds:
        return (text + ': this node subscribes reliably (its default), which a best-effort '
                'publisher does not serve (QoS mismatch); subscribe best-effort: launch '
                'argument input_qos:=best_effort, or the node parameter '
                f'qos_overrides.{topic.name}.subscription.reliability:=best_effort')
    if topic.reliable:
        return text + ', but nothing arrived although this node subscribes reliably'
    return text + ', but nothing arrived; this node subscribes best-effort (matches any publisher)'
