from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "andon.measures"
    label = "measures"
    verbose_name = "Measures"

    def ready(self):
        from andon.platform import audit, content, demo, history
        from andon.platform import navigation

        from . import board
        from . import demo as measures_demo
        from . import models, scheduled, services

        # Results are derived data, rewritten by each computation (its job and data load are on
        # every row); the trail covers what people decide: definitions, counts, notes, mappings.
        for model in (models.Measure, models.ManualCount, models.Annotation, models.UnitMapping):
            audit.register(model)
        # The measure's history on its page: what people decided, not the computations' notes.
        history.register(models.Measure, labels={
            "version": "Definition version", "unit_label": "Unit of the values", "owner_role": "Owner",
            "source_kind": "Source", "loaded_at": "Definition loaded",
        }, hidden={"compute_error", "compute_error_at", "compute_error_job"})
        content.register_loader("measures", services.load_measure_file)
        demo.register_demo_loader(measures_demo.load_demo_measures)
        board.register()  # the board pack's sections (governance reads them through the platform's registry)
        navigation.add(navigation.NavEntry("Measures", "measures:dashboard", "measures.view", "graph-up"))
        scheduled.connect()
        from . import attention  # what the module proposes to committees (platform/reporting.py)
        attention.register()
