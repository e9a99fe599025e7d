"""Where cluster data comes from. Each source yields plain dicts for `core.inventory`."""
