"""FHIR data for the analytics layer: bulk ingest into a DuckDB FHIR store, and a
SQL-on-FHIR v2 view engine that compiles ViewDefinitions to DuckDB SQL.

Pure Python: nothing here imports Django (tests/test_layers.py).
"""
