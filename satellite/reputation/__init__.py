"""Reputation: Storj's beta model of each node's audit, unknown-audit and online scores,
and the decisions they drive (vetting, suspension, disqualification)."""

from satellite.reputation.model import (
    Decision,
    Outcome,
    ReputationConfig,
    ReputationState,
    apply_outcome,
    beta_update,
)

__all__ = ["Decision", "Outcome", "ReputationConfig", "ReputationState", "apply_outcome", "beta_update"]
