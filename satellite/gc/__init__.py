"""Garbage collection: signed retain lists that let each node delete the pieces the satellite no longer references."""

from .chore import GCConfig, GCNode, GCStore, RetainReport, RetainSender, gc_config

__all__ = ["GCConfig", "GCNode", "GCStore", "RetainReport", "RetainSender", "gc_config"]
