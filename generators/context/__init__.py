"""Long-context capability: QA from a random chunk over the whole document, hierarchical summaries."""
