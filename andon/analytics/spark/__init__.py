"""The analytics layer on Apache Spark, for health systems that outgrow one server.

DuckDB stays the default engine (embedded, nothing to run). With `ANDON_ANALYTICS_ENGINE=spark`
the same ViewDefinitions run on Spark: the view compiler (`fhir.sof`) writes DuckDB SQL as
always, and `dialect.spark_sql` turns it into Spark SQL (sqlglot does the syntax; the JSON
functions become Spark's VARIANT functions, by hand). One compiler, two dialects: a view means
the same rows on either engine, which the SQL-on-FHIR conformance suite checks on both.

Needs the `spark` extra (`pip install andon[spark]`: PySpark 4 and sqlglot) and Java 17.
"""
