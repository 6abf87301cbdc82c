"""Tenaz's web dashboard: events and their statuses, live, for the operators of a workspace.

`start_dashboard(runtime, hub, address)` serves it next to the gRPC server,
in the same event loop and with the same API keys.
"""

from server.dashboard.app import DashboardServer, start_dashboard

__all__ = ["DashboardServer", "start_dashboard"]
