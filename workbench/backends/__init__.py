"""Model providers behind one streaming contract; discovered as entry-point plugins."""
