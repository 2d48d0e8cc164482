"""What every API router shares: refusals documented alike, bounded paging, strict dates.

It lives in the platform so that module routers can use it without importing andon.api,
which sits above them and assembles their routers."""

import re
from datetime import date, datetime
from typing import Annotated

from django.conf import settings
from django.core.exceptions import ValidationError
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination
from ninja.parser import Parser
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic import Field as PydanticField

from .concurrency import Stale
from . import inputs


class Pages(LimitOffsetPagination):
    """limit/offset paging with bounds, so a huge offset is a 422, not a database overflow."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=500)
        offset: int = Field(0, ge=0, le=10_000_000)


def _iso_date(value):
    # Pydantic would also take a number of seconds since 1970 ("0"); the API takes dates only.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected a date as YYYY-MM-DD")
    if not isinstance(value, str | date):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


def _in_range(check):
    def checked(value):
        try:
            return check(value)
        except inputs.InputError as problem:
            raise ValueError(str(problem)) from None  # pydantic turns a ValueError into a 422

    return checked


# A date from inputs.EARLIEST to inputs.LATEST: 9999-12-31 is a date, but not the day after it.
IsoDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_in_range(inputs.day))]

# A date and time, moved to UTC (without an offset, in the server's time zone, as the importers
# read it): pydantic hands a naive or a year-1 +14:00 value to code that compares it with now.
Moment = Annotated[datetime, AfterValidator(_in_range(inputs.moment))]

# Numbers in a body: JSON numbers only (no "1_0" or "nan" as text), finite, within the limit
# every importer applies, so that nothing stored makes a sum or a chart infinite.
Number = Annotated[float, Strict(), PydanticField(allow_inf_nan=False, ge=-inputs.NUMBER_LIMIT,
                                                  le=inputs.NUMBER_LIMIT)]
Count = Annotated[float, Strict(), PydanticField(allow_inf_nan=False, ge=0, le=inputs.NUMBER_LIMIT)]

# A yes or no in a body: JSON true or false only, so that "no", 0 or "off" is refused with 422,
# not read as a choice the caller may not have meant.
Flag = Annotated[bool, Strict()]

# A record's id, in a path, a query or a body: bounded to the database's 64-bit keys, so a huge
# number is a 422 and never reaches a query (SQLite cannot even bind it: a server error).
Id = Annotated[int, PydanticField(ge=1, le=2**63 - 1)]

# The version of a record the caller read (its `version` in the answer that showed it): a change
# sent with an older one is refused with 409 (platform/concurrency.py); left out, not checked.
Version = Annotated[int | None, PydanticField(
    None, ge=1, le=2**31 - 1,
    description="The record's version as you read it; if it changed since, the request is refused with 409")]


class Body(BaseModel):
    """A request body: plain pydantic, so unknown fields and non-object bodies are refused, not
    ignored."""

    model_config = ConfigDict(extra="forbid")


class JobOut(Schema):
    """A background job, as /api/jobs/{id} shows it (and as operations that start one answer)."""

    id: int
    title: str
    status: str
    progress_done: int
    progress_total: int | None
    message: str
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict | None
    attempts: int
    max_attempts: int
    lost_attempts: list[dict] = PydanticField(description="Attempts whose worker stopped: attempt, at, worker, reason")


class JsonParser(Parser):
    """Request bodies through the platform's bounded JSON loader: NaN, Infinity, 1e999, duplicate
    keys and deep nesting are a 400, never a value a handler sees (or a RecursionError)."""

    MAX_DEPTH = 32

    def parse_body(self, request):
        return inputs.load_json(request.body, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**31,
                                max_depth=self.MAX_DEPTH)


class ErrorOut(Schema):
    detail: str


class ValidationErrorOut(Schema):
    detail: list[dict]


def documented(ok_schema, status: int = 200, *, not_found: bool = False, versioned: bool = False) -> dict:
    """The responses of an operation: its own, and the refusals every operation can give;
    `versioned` for a change that takes the record's `version` (409 when it is stale)."""
    responses = {status: ok_schema, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut}
    if not_found:
        responses[404] = ErrorOut
    if versioned:
        responses[409] = ErrorOut
    return responses


class MappedQuery:
    """A queryset whose rows are mapped lazily: the paginator counts and slices in SQL, and only
    the page's rows are turned into records."""

    def __init__(self, queryset, mapper):
        self.queryset, self.mapper = queryset, mapper

    def __len__(self):
        return self.queryset.count()

    def __getitem__(self, window: slice):
        return [self.mapper(row) for row in self.queryset[window]]




def refused(error: ValidationError):
    """A service's ValidationError as a 422 in the shape of the API's other validation errors;
    a change made on a stale version as a 409 that says who changed the record and when."""
    if isinstance(error, Stale):
        return Status(409, {"detail": error.api_message})
    if hasattr(error, "error_dict"):
        detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}
                  for field, messages in error.message_dict.items() for message in messages]
    else:
        detail = [{"loc": ["body"], "msg": message, "type": "value_error"} for message in error.messages]
    return Status(422, {"detail": detail})


class NamedRouter(Router):
    """A router whose operations are named `<prefix><handler name>` in the OpenAPI document.

    ninja names an operation after the handler's module path, so moving a handler to another
    file would rename it, and clients generated from the document call operations by that name.
    A router split by subject keeps its published names with the prefix its one file had."""

    def __init__(self, operation_ids: str, **kwargs):
        super().__init__(**kwargs)
        self.operation_ids = operation_ids

    def add_api_operation(self, path, methods, view_func, *, operation_id=None, **kwargs):
        operation_id = operation_id or f"{self.operation_ids}{view_func.__name__}"
        super().add_api_operation(path, methods, view_func, operation_id=operation_id, **kwargs)
