"""Matinee: an open, Netflix-style streaming platform built as real microservices."""

__version__ = "0.1.0"
__all__ = ["__version__"]
