"""Risk pages: one risk: its page, raising (also from an RCA's root cause), re-scoring, escalation, controls and links."""

urlpatterns = []
