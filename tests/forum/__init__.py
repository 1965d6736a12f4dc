"""The forum's pages and forms. Every page's footer probes the replicas for their lag,
so these tests allow queries on every alias (`databases="__all__"`)."""
