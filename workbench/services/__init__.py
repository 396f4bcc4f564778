"""Orchestration without Qt: runs, grids, persistence, evaluation."""
