"""ELM engine for CMS eCQMs: evaluates the published ELM (compiled CQL 1.5) of a measure
against FHIR R4 / QI-Core patients, and the measure's populations into MeasureReports.

Pure Python, no Django (see shared/docs/DESIGN.md). Built in small pieces, each testable
alone: the CQL runtime types (`temporal`, `quantity`, `interval`), the ELM loader
(`elm`), the evaluator, the measure evaluation and the `andon ecqm` commands.
"""
