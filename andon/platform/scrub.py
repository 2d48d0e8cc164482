"""What a picture carries besides the picture: a phone's photo holds when it was taken, the phone
(make, model, sometimes its owner's name) and often where (EXIF, XMP, IPTC, comments, PNG text
chunks, data after the image's end). An anonymous report keeps the picture without them.

Lossless: segments and chunks are dropped, the image data is copied byte for byte. A file that
does not parse as expected is kept as it is (the officer still gets the picture); other types
(PDF, text) are kept as sent, and the report form tells anonymous reporters so.
"""

import struct

# JPEG segments kept before the image data: JFIF (APP0), the colour profile (APP2), Adobe's colour
# transform (APP14, needed to decode CMYK), and every non-application segment (tables, frame).
# Dropped: APP1 (EXIF, XMP), APP3-APP13 and APP15 (makers' notes, IPTC), comments.
_JPEG_KEPT_APPLICATIONS = {0xE0, 0xE2, 0xEE}
_JPEG_COMMENT = 0xFE
_JPEG_START_OF_SCAN, _JPEG_END = 0xDA, 0xD9
# Within image data 0xFF is followed by 0x00 (an escaped byte) or a restart marker.
_JPEG_IN_SCAN = {0x00, *range(0xD0, 0xD8)}
# PNG chunks with text, EXIF or a time.
_PNG_DROPPED = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def without_metadata(content: bytes, content_type: str) -> bytes:
    try:
        if content_type == "image/jpeg":
            return _jpeg(content)
        if content_type == "image/png":
            return _png(content)
    except (IndexError, ValueError, struct.error):
        pass  # not the file it says it is: kept as sent
    return content


def _jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    kept, at = [b"\xff\xd8"], 2
    while True:
        if data[at] != 0xFF:
            raise ValueError("not a marker")
        marker = data[at + 1]
        if marker == _JPEG_END:
            kept.append(b"\xff\xd9")  # anything after the image's end is dropped
            return b"".join(kept)
        if marker == 0xFF:  # a fill byte before a marker
            at += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            kept.append(data[at:at + 2])
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        end = at + 2 + length
        if end > len(data):
            raise ValueError("truncated")
        if not ((0xE0 <= marker <= 0xEF and marker not in _JPEG_KEPT_APPLICATIONS) or marker == _JPEG_COMMENT):
            kept.append(data[at:end])
        at = end
        if marker == _JPEG_START_OF_SCAN:  # entropy-coded data up to the next real marker
            scan = at
            while True:
                at = data.index(b"\xff", at)
                if data[at + 1] not in _JPEG_IN_SCAN:
                    break
                at += 2
            kept.append(data[scan:at])


def _png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    kept, at = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while True:
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        end = at + 12 + length
        if end > len(data):
            raise ValueError("truncated")
        if kind not in _PNG_DROPPED:
            kept.append(data[at:end])
        if kind == b"IEND":
            return b"".join(kept)
        at = end
