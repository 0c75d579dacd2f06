"""A seeded synthetic lending platform, calibrated to the seeds' disclosures.

``simulate(config)`` returns the DESIGN.md tables as Arrow tables, truth apart;
``write_dataset(result, directory)`` writes them as Parquet, all or nothing;
``simulate_to(directory, config)`` writes the same folder while it simulates,
streaming each table's chunks, for platforms too large to hold in memory.
The same seed gives the same platform, byte for byte.
"""

from creditmesh.simulate.config import SimulationConfig
from creditmesh.simulate.engine import SimulationResult, simulate, simulate_to, write_dataset
from creditmesh.simulate.policy import Policy, RulePolicy

__all__ = [
    "Policy",
    "RulePolicy",
    "SimulationConfig",
    "SimulationResult",
    "simulate",
    "simulate_to",
    "write_dataset",
]
