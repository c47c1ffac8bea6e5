"""syncd: keeps LaminDB instances' Space and SpaceBlock registries in step with the hub."""

__version__ = "0.1.0"
