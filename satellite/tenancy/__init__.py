"""Tenants, their S3 access keys (secrets encrypted at rest) and the named placement policies."""

from satellite.tenancy.secretbox import SecretBox
from satellite.tenancy.service import AccessKeyInfo, NewAccessKey, TenancyService, TenancyStore, TenantInfo

__all__ = ["AccessKeyInfo", "NewAccessKey", "SecretBox", "TenancyService", "TenancyStore", "TenantInfo"]
