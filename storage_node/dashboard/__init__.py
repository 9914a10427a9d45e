"""The operator's dashboard: a small web page and JSON API served by each storage node."""

from storage_node.dashboard.history import NodeHistory
from storage_node.dashboard.server import DashboardServer, create_dashboard_app
from storage_node.dashboard.service import DashboardService

__all__ = ["DashboardServer", "DashboardService", "NodeHistory", "create_dashboard_app"]
