"""A small illustration site: uploads, new arrivals, the AI feed, work pages."""
