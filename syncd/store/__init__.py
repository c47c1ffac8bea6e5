"""Instance databases: LaminDB's tables, syncd's bookkeeping, bootstrap, locks and writes."""
