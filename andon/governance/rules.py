"""The governance module's object rules (committee membership, pack status)."""
