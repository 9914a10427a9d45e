"""The admin console: a web page on the satellite's admin port, over the admin API and the audit log."""

from satellite.console.api import audit_log_middleware, install_console
from satellite.console.economics import churn, network_overview

__all__ = ["audit_log_middleware", "churn", "install_console", "network_overview"]
