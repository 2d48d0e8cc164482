"""What Andon writes under its data directory (database, cache, attachments, exports, the FHIR
store, patient-level case files) is readable by Andon's own account only, whatever the umask
of the shell that started it."""

import os
import stat
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, sys
    from datetime import date
    os.umask(0o022)  # a usual login shell's
    data = sys.argv[1]
    with open(os.path.join(sys.argv[2], "patients.ndjson"), "w") as ndjson:
        ndjson.write('{"resourceType": "Patient", "id": "p1"}\\n')
    from andon import cli
    # Analytics commands run without Django (and its settings).
    assert cli.main(["fhir", "--store", os.path.join(data, "fhir.duckdb"), "load", "--no-progress", ndjson.name]) == 0
    os.environ["DJANGO_SETTINGS_MODULE"] = "andon.settings"
    import django
    django.setup()
    import pyarrow as pa
    from django.core.cache import cache
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import connection
    from andon.measures import cases
    from andon.platform.exports import exports_dir, write_csv
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE probe (x integer)")
    cache.set("probe", 1)
    default_storage.save("safety/photo", ContentFile(b"jpeg"))
    write_csv(exports_dir() / "audit.csv", ["a"], [{"a": 1}])
    cases.keep("falls", "month", pa.table({"period_start": pa.array([date(2026, 1, 1)], pa.date32())}),
               [(date(2026, 1, 1), date(2026, 2, 1))])
""")


def test_everything_andon_writes_under_the_data_directory_is_private(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)  # as an earlier version left it
    environment = {**os.environ, "ANDON_DATA_DIR": str(data), "DATABASE_URL": f"sqlite:///{data / 'andon.sqlite3'}"}
    environment.pop("ANDON_CASES_DIR", None)
    environment.pop("ANDON_FHIR_STORE", None)
    subprocess.run([sys.executable, "-c", SCRIPT, str(data), str(tmp_path)], env=environment, check=True, timeout=120)
    found = {path.relative_to(data).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in [data, *data.rglob("*")]}
    for expected in ("andon.sqlite3", "fhir.duckdb", "files/safety/photo", "exports/audit.csv",
                     "measure-cases/falls/month/2026-01-01.parquet", "cache", "secret_key"):
        assert expected in found, sorted(found)
    assert len([name for name in found if name.startswith("cache/")]) >= 1
    # The folder an earlier version made is closed to others (a group an operator gave it stays).
    assert found.pop(".") == 0o750
    shared = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert shared == {}, shared
