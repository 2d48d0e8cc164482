"""Pieces more than one subject of the safety API uses."""

from typing import Annotated

from ninja.errors import HttpError
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from .. import taxonomy

Id = Annotated[int, PydanticField(ge=1, le=2**63 - 1)]


class Body(BaseModel):
    # Plain pydantic: unknown fields and non-object bodies are refused, not ignored.
    model_config = ConfigDict(extra="forbid")


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
