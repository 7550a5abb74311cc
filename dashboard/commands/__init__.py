"""One module per ``trackside`` sub-command; ``dashboard.cli`` loads them lazily."""
