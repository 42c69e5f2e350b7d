"""The build: reading the archive, the article store, volumes, outputs and the report."""
