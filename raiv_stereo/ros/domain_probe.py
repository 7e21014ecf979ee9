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


"""Which ROS domains have other participants: the demo picks a free one or refuses a busy one."""

from __future__ import annotations

import os
import random
import time

from raiv_stereo.tools.cli import CommandError, domain_id_from_env
import rclpy
from rclpy.context import Context
from rclpy.signals import SignalHandlerOptions

DISCOVERY_MIN_S = 3.5
"""The probe listens to a domain at least this long: a participant that missed the probe's first
announcements shows up at its next periodic one (Fast DDS announces every 3 s)."""
DISCOVERY_SETTLE_S = 0.5
"""After that, it listens until nothing new has shown up for this long (topics follow nodes)."""
DISCOVERY_MAX_S = 10.0
"""It never listens longer than this, even while the domain's graph keeps changing."""
DISCOVERY_POLL_S = 0.05
"""How often the probe reads the domain's graph while it listens."""
DOMAIN_CANDIDATES = 4
"""Random domains probed at once when the user set none; the first without participants wins."""


def discovery_done(listened_s: float, unchanged_s: float) -> bool:
    """Return whether the probe has listened enough: past the minimum and settled, or maxed."""
    return listened_s >= DISCOVERY_MAX_S or (listened_s >= DISCOVERY_MIN_S
                                             and unchanged_s >= DISCOVERY_SETTLE_S)


def domain_participants(domains: list[int], enough=None
                        ) -> dict[int, tuple[list[str], list[str]]]:
    """
    Return, per domain, the other nodes and the published topics once discovery has settled.

    `enough(found)` true ends the listening at once (what the caller looks for is there).
    """
    def graph(node) -> tuple[list[str], list[str]]:
        nodes = [f'{ns.rstrip("/")}/{name}' for name, ns in
                 node.get_node_names_and_namespaces() if name != node.get_name()]
        topics = [name for name, _ in node.get_topic_names_and_types()
                  if name not in ('/parameter_events', '/rosout')
                  and node.count_publishers(name) > 0]
        return sorted(nodes), sorted(topics)

    probes = []
    try:
        for domain in domains:
            context = Context()
            rclpy.init(context=context, domain_id=domain,
                       signal_handler_options=SignalHandlerOptions.NO)
            probes.append((domain, context, rclpy.create_node(
                f'raiv_stereo_demo_probe_{os.getpid()}', context=context, enable_rosout=False,
                start_parameter_services=False)))
        start = changed = time.monotonic()
        found: dict[int, tuple[list[str], list[str]]] = {}
        while True:
            now_found = {domain: graph(node) for domain, _, node in probes}
            now = time.monotonic()
            if now_found != found:
                found, changed = now_found, now
            if (enough is not None and enough(found)) or \
                    discovery_done(now - start, now - changed):
                return found
            time.sleep(DISCOVERY_POLL_S)
    finally:
        for _, context, node in probes:
            node.destroy_node()
            context.try_shutdown()


def pick_free_domain(candidates: list[int]) -> int:
    """Return the first of `candidates` without other participants; CommandError if none is."""
    found = domain_participants(candidates)
    for domain in candidates:
        if not any(found[domain]):
            return domain
    raise CommandError(f'ROS domains {", ".join(map(str, candidates))} all have other '
                       'participants; set ROS_DOMAIN_ID to a free one')


def choose_domain(namespace: str) -> int:
    """
    Return the domain for the demo, set in ROS_DOMAIN_ID: the user's, else a free random one.

    Two demos in one domain and namespace read each other's topics, so a namespace with
    publishers in the user's domain is refused (a viewer waiting there only subscribes).
    """
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    domain = domain_id_from_env()
    if domain is None:
        domain = pick_free_domain(random.SystemRandom().sample(range(1, 102), DOMAIN_CANDIDATES))
        os.environ['ROS_DOMAIN_ID'] = str(domain)
        return domain
    prefix = '/' + namespace.strip('/') + '/'

    def in_namespace(found) -> list[str]:
        return [name for name in found[domain][1] if name.startswith(prefix)]
    ours = in_namespace(domain_participants([domain], enough=in_namespace))
    if ours:
        raise CommandError(
            f'ROS_DOMAIN_ID={domain} already has publishers on {", ".join(sorted(ours)[:3])}'
            f'{" ..." if len(ours) > 3 else ""}: another demo or camera uses --namespace '
            f'{namespace}; give another --namespace or ROS_DOMAIN_ID (unset, the demo picks a '
            'free domain)')
    return domain
