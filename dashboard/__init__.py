"""Trackside's composition root: the web app, the live broadcast and the CLI."""
