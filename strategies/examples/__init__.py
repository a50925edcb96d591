"""Example plugin strategies: templates to copy for a strategy of your own."""
