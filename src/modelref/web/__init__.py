"""The web UI: pages rendered on the server from the same services the API routes call."""
