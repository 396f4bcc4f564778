"""Side-by-side comparison: variants in columns, word diffs, repeats, A/B rating and sweeps."""
