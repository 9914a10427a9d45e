"""Pure node selection: which storage nodes may hold a segment's pieces under a residency policy.

The package does no I/O. The overlay turns its node rows into :class:`NodeCandidate` values,
the metainfo and repair services hand them here with a :class:`PlacementPolicy`, and get back
the nodes to order uploads from, or a :class:`PlacementError` that says what was missing.
Like Storj's ``nodeselection``, it is split into what may hold a piece at all (``filter``:
policy and eligibility) and how to choose among those (``selector``).
"""

from .errors import PlacementError, PolicyError
from .filter import Ineligible, NodeCandidate, SelectionConfig, in_policy, is_eligible, location_in_policy
from .groups import COUNTRY_GROUPS, expand_countries
from .policy import PlacementPolicy, normalize_region
from .selector import new_node_quota, select_nodes

__all__ = [
    "COUNTRY_GROUPS",
    "Ineligible",
    "NodeCandidate",
    "PlacementError",
    "PlacementPolicy",
    "PolicyError",
    "SelectionConfig",
    "expand_countries",
    "in_policy",
    "is_eligible",
    "location_in_policy",
    "new_node_quota",
    "normalize_region",
    "select_nodes",
]
