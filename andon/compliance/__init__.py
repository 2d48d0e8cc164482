"""Compliance and accreditation readiness (issue 16).

Frameworks (regulations, accreditation standards, a hospital's own standards) are versioned data
under content/frameworks/; assessments judge a scope against one, with evidence one click from
each requirement; findings open actions in the shared tracker; tracers are mock-survey checklists
filled on a phone; policies go through document control and are read and signed by staff.

Other modules use it only through `andon.compliance.services`.
"""
