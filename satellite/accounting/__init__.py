"""Accounting: what each node earned and each tenant owes, per period, and the reserve fund.

The service itself is :class:`satellite.accounting.service.AccountingService`; this package
root exports only the pure parts (settings and arithmetic), which the database layer uses.
"""

from .config import AccountingConfig, AccountingConfigError
from .pricing import Period, Prices

__all__ = ["AccountingConfig", "AccountingConfigError", "Period", "Prices"]
