"""The chassis every service is built on. It never imports ``matinee.services``."""
