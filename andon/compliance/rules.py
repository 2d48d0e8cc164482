"""The compliance module's object rules (permissions.add_rule): facts about a record that grant
what no role does: the owner of an assessment item, a policy's owner and named approvers, a
tracer's surveyor for the day. Each subject adds its rules here."""
