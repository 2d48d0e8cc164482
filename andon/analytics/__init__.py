"""Andon's analytics layer: pure Python, never imports Django.

It takes paths, connections and plain data and returns plain data (dataclasses, Arrow tables),
so it can be used from a notebook without the web application. Sub-packages arrive with their
issues: fhir/ (bulk ingest, SQL-on-FHIR views), cql/ (ELM engine), spc/ and stats/.
"""
