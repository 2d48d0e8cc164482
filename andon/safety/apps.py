from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "andon.safety"
    label = "safety"
    verbose_name = "Patient safety events"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from andon.platform import audit, content, demo, services
        from andon.platform.models import Unit
        from andon.platform import navigation

        from . import demo as safety_demo
        from . import analysis, board, models, rules, taxonomy, work  # noqa: F401  (rules registers the object rules)

        # The version counts changes (optimistic concurrency); the trail has the changes themselves.
        audit.register(models.SafetyEvent, exclude_fields=["receipt_hash", "version"])
        audit.register(models.Transition)
        audit.register(models.Deescalation)
        audit.register(models.ReviewWaiver)
        audit.register(models.Escalation)
        audit.register(models.ReporterMessage)
        audit.register(models.ReporterQuestion)
        audit.register(models.Attachment)
        audit.register(models.ConductConcern)
        for model in (models.Investigation, models.TeamMember, models.TimelineEntry, models.WhyChain,
                      models.ContributingFactor, models.RootCause, models.WorksheetChange):
            audit.register(model)
        _history_words(models)
        content.register_loader("taxonomies", taxonomy.load_taxonomy_file)
        navigation.add(navigation.NavEntry("Report an event", "safety:report", "safety.report", "exclamation-triangle",
                                           "action"))
        navigation.add(navigation.NavEntry("My reports", "safety:my_reports", "safety.report", "file-earmark-text",
                                           "account"))
        navigation.add(navigation.NavEntry("Report an event anonymously", "safety:public_report", None,
                                           "exclamation-triangle", "public"))
        navigation.add(navigation.NavEntry("Follow an anonymous report", "safety:receipt", None, "receipt", "public"))
        navigation.add(navigation.NavEntry("Triage", "safety:triage_queue", "safety.triage", "inboxes"))
        navigation.add(navigation.NavEntry("Events", "safety:event_list", "safety.view_events", "list-ul"))
        navigation.add(navigation.NavEntry("Analysis", "safety:analysis", "safety.view_aggregates", "bar-chart"))
        navigation.add(navigation.NavEntry("Reporter feedback", "safety:feedback_stats", "safety.view_feedback_stats",
                                           "chat-square-text"))
        navigation.add(navigation.NavEntry("Conduct concerns", "safety:conduct_concerns",
                                           "safety.review_conduct_concerns", "person-exclamation"))
        services.register_work_provider(work.safety_work)
        demo.register_demo_loader(safety_demo.load_demo_events)
        board.connect()  # its section of the board quality pack
        # Kept analyses are out of date when what they count (or a unit's name) changes.
        for model in (models.SafetyEvent, models.Investigation, models.ContributingFactor, Unit):
            post_save.connect(analysis.forget_aggregates, sender=model, dispatch_uid=f"aggregates-{model.__name__}")
            post_delete.connect(analysis.forget_aggregates, sender=model, dispatch_uid=f"aggregates-del-{model.__name__}")
        from . import attention  # what the module proposes to committees (platform/reporting.py)
        attention.register()


def _history_words(models) -> None:
    """How an event's history names its fields and the codes the taxonomy and SAC scheme hold."""
    from andon.platform import history

    from . import sac, taxonomy

    def taxonomy_label(kind):
        def label(code):
            try:
                current = taxonomy.current()
            except taxonomy.TaxonomyMissing:
                return code
            return current.category_label(code) if kind == "category" else current.harm_label(code)
        return label

    history.register(models.SafetyEvent, labels={
        "category": "Category", "reported_category": "Category as reported", "harm": "Harm",
        "sac_scheme": "SAC scheme", "sac_severity": "SAC severity", "sac_probability": "SAC probability",
        "sac_score": "SAC", "is_sentinel": "Sentinel event", "review": "Review",
        "triaged_by": "Triaged by", "rca_start_due": "RCA to start by", "rca_complete_due": "RCA to be complete by",
        "rca_started_at": "RCA started", "pses_entered_at": "Entered the PSES",
        "pses_removed_at": "Removed from the PSES", "pses_removed_by": "Removed from the PSES by",
        "pses_removal_reason": "Reason for removal from the PSES",
    }, values={
        "category": taxonomy_label("category"), "reported_category": taxonomy_label("category"),
        "harm": taxonomy_label("harm"),
        "sac_severity": lambda code: sac.SEVERITIES.get(code, code).split(":")[0],
        "sac_probability": lambda code: sac.PROBABILITIES.get(code, code).split(":")[0],
        "sac_score": lambda score: f"SAC {score}",
        "sac_scheme": lambda code: sac.SCHEME_NAMES.get(code, code),
    })
