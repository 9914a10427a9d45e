"""The metainfo service: buckets, objects, segments and pieces, as gateways see them."""

from satellite.metainfo.multipart import MultipartService
from satellite.metainfo.service import MetainfoService
from satellite.metainfo.store import MetabaseStore

__all__ = ["MetabaseStore", "MetainfoService", "MultipartService"]
