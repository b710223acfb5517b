"""Matinee services; each subpackage has the same shape (DESIGN.md, Layout)."""
