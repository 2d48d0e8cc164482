"""Object rules of the patient voice module (permissions.add_rule), imported from ready()."""
