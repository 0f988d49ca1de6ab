"""
a27-netsim: discrete-event simulation of IPv8 networks.

A virtual-time asyncio loop, simulated IPv8 endpoints on a network with latency, loss, partitions and churn,
networkx topologies, and one seed that fixes every random choice.
"""

from .__about__ import __version__
from .endpoint import SimulatedEndpoint
from .latency import (
    DEFAULT_REGION_MATRIX,
    ConstantLatency,
    LatencyError,
    LatencyModel,
    LogNormalLatency,
    RegionLatency,
    UniformLatency,
    parse_latency,
)
from .loop import DiscreteEventLoop, SimulationDeadlock, SimulationError
from .network import (
    ADDRESS_BLOCK,
    DEFAULT_PORT,
    NetworkConfigError,
    SimulatedNetwork,
    TraceEvent,
    UnknownAddressError,
    node_address,
)
from .random_streams import SeedStreams, derive_seed, seed_global_random
from .simulation import Member, Simulation, introduce, introduce_members
from .stats import DROP_CAUSES, TrafficStats, message_kind
from .topology import (
    TopologyError,
    barabasi_albert,
    bottleneck,
    bottlenecks,
    bridge_nodes,
    complete,
    topology_by_name,
)

__all__ = [
    "ADDRESS_BLOCK",
    "DEFAULT_PORT",
    "DEFAULT_REGION_MATRIX",
    "DROP_CAUSES",
    "ConstantLatency",
    "DiscreteEventLoop",
    "LatencyError",
    "LatencyModel",
    "LogNormalLatency",
    "Member",
    "NetworkConfigError",
    "RegionLatency",
    "SeedStreams",
    "SimulatedEndpoint",
    "SimulatedNetwork",
    "Simulation",
    "SimulationDeadlock",
    "SimulationError",
    "TopologyError",
    "TraceEvent",
    "TrafficStats",
    "UniformLatency",
    "UnknownAddressError",
    "__version__",
    "barabasi_albert",
    "bottleneck",
    "bottlenecks",
    "bridge_nodes",
    "complete",
    "derive_seed",
    "introduce",
    "introduce_members",
    "message_kind",
    "node_address",
    "parse_latency",
    "seed_global_random",
    "topology_by_name",
]
