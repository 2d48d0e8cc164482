"""Pieces more than one subject of the safety API uses."""

from ninja.errors import HttpError

from .. import taxonomy


def current_taxonomy():
    try:
        return taxonomy.current()
    except taxonomy.TaxonomyMissing:
        return None


def taxonomy_needed():
    try:
        return taxonomy.current()
    except taxonomy.TaxonomyMissing as missing:
        raise HttpError(400, str(missing)) from None
