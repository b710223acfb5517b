"""The ABR simulator (``sim``) and its runner over the Norway 3G set (``run``)."""
