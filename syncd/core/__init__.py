"""The sync core: no I/O, neither httpx nor SQLAlchemy."""
