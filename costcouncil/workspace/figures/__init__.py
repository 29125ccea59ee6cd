"""What the dashboard and the figures API show: filters over the rollups and one module per page."""
