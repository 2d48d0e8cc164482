"""The governance module's door for other modules: what they may call."""
