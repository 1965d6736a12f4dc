"""The forum's activity log, in a database of its own (ROUTERS_APP_PRIMARIES routes this
app to the "analytics" primary). Filled from the forum's outbox (forum/outbox.py)."""
