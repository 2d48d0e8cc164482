"""Files people upload to compliance (evidence documents, policy originals, tracer photos,
framework and assessment spreadsheets): checked for size and for what they really are (the first
bytes, not the name or the browser's word), stored under a random name, served as attachments.

Each subject says which kinds it takes; a refusal names the file and why.
"""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.http import FileResponse

from andon.platform.scrub import without_metadata

# kind -> (content type, how its first bytes look)
_ZIP = b"PK\x03\x04"
KINDS = {
    "pdf": ("application/pdf", lambda head: head.startswith(b"%PDF-")),
    "png": ("image/png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "jpeg": ("image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             lambda head: head.startswith(_ZIP)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", lambda head: head.startswith(_ZIP)),
    "text": ("text/plain", lambda head: b"\x00" not in head),
    "csv": ("text/csv", lambda head: b"\x00" not in head),
    "yaml": ("application/yaml", lambda head: b"\x00" not in head),
}
EXTENSIONS = {"pdf": "pdf", "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "docx": "docx", "xlsx": "xlsx",
              "txt": "text", "csv": "csv", "yaml": "yaml", "yml": "yaml"}
DOCUMENTS = ("pdf", "docx", "xlsx", "png", "jpeg", "text")
PHOTOS = ("jpeg", "png")
SPREADSHEETS = ("csv", "xlsx")


class Checked:
    """An upload that passed: its bytes (photos without their metadata), kind and digest."""

    def __init__(self, name: str, kind: str, content: bytes):
        self.name = name[:200]
        self.kind = kind
        self.content_type = KINDS[kind][0]
        self.content = content
        self.size = len(content)
        self.sha256 = hashlib.sha256(content).hexdigest()

    def as_file(self) -> ContentFile:
        return ContentFile(self.content, name="upload")


def check_upload(upload, kinds, *, field: str = "file", max_bytes: int | None = None) -> Checked:
    """The upload read and checked, or a ValidationError on `field` naming the file and the reason."""
    limit = max_bytes or settings.ANDON_ATTACHMENT_MAX_BYTES
    name = getattr(upload, "name", "") or "the file"
    if upload is None:
        raise ValidationError({field: "Choose a file."})
    if upload.size > limit:
        raise ValidationError({field: f"{name} is larger than {limit // (1024 * 1024)} MB."})
    kind = EXTENSIONS.get(name.rsplit(".", 1)[-1].lower() if "." in name else "")
    allowed = ", ".join(sorted({k.upper() for k in kinds}))
    if kind not in kinds:
        raise ValidationError({field: f"{name}: only {allowed} files are taken here."})
    content = upload.read()
    if not KINDS[kind][1](content[:1024]):
        raise ValidationError({field: f"{name} does not hold what its name says ({kind.upper()})."})
    if kind in PHOTOS:
        content = without_metadata(content, KINDS[kind][0])
    return Checked(name, kind, content)


def serve(file_field, name: str, content_type: str) -> FileResponse:
    """A stored file as a download, never shown inline (an uploaded file is not our page)."""
    return FileResponse(file_field.open("rb"), as_attachment=True, filename=name, content_type=content_type)
