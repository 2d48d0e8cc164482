from django.db import migrations

# The comments' words on PostgreSQL (andon/voice/comments.py matches the same expression): a GIN
# index over to_tsvector('simple', text) answers "every word" among 300,000 comments without
# reading them. SQLite has no GIN; its search reads the unit's and months' rows by LIKE.
WORDS_INDEX = "voice_comment_words"


def create_words_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {WORDS_INDEX} ON voice_surveycomment "
                              "USING gin (to_tsvector('simple'::regconfig, text))")


def drop_words_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {WORDS_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('voice', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(create_words_index, drop_words_index),
    ]
