"""The shared action (CAPA) tracker: corrective and preventive actions from safety
investigations (RCA²), and later from audits, risks and FMEA.

Other modules create and read actions only through `andon.actions.services`:

    from andon.actions import services as actions

    action = actions.create_action(user, source=investigation, source_label=f"RCA for {event.reference}",
                                   unit=event.unit, owner=person, title="…", due_date=…,
                                   strength="stronger", measure="…")
    actions.actions_for_source(investigation, user)        # what the viewer may see of them
    actions.strength_share(actions.actions_for_source(investigation).exclude(status="cancelled")).share

Each action has one owner, a due date, a strength on the RCA² hierarchy and a measure; leadership
approves or rejects it (a rejection says why); once done, its effectiveness is checked.
"""
