"""S3 lifecycle rules applied by the satellite: expiry of current objects and abort of stale
multipart uploads (``chore``); the rules themselves are :mod:`common.lifecycle_rules`."""

from satellite.lifecycle.chore import LifecycleChore, LifecycleConfig, LifecycleStats, PassReport

__all__ = ["LifecycleChore", "LifecycleConfig", "LifecycleStats", "PassReport"]
