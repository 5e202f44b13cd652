"""Reports for people (text tables) and machines (JSON-ready dicts). Takes plain dicts, never the IR."""
