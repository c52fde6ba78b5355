"""What an uploaded file really is: its bytes are identified by `puremagic` (a maintained
content-sniffing library, no hand-written magic numbers here), and must agree with both the
media type the client declared and the file name's extension. The sniffed type is stored
with the document."""

from __future__ import annotations

import puremagic

from domain.refusals import RefusalKind, Refused, refusal

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Declared type -> (types the sniffer may report for such bytes, extensions allowed).
# OFD (GB/T 33190) is a ZIP container the sniffer knows only as ZIP; Word and Excel 97
# files are OLE compound documents, which it reports under several names.
ACCEPTED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "application/pdf": (frozenset({"application/pdf"}), frozenset({".pdf"})),
    "application/ofd": (frozenset({"application/zip"}), frozenset({".ofd"})),
    "image/jpeg": (frozenset({"image/jpeg"}), frozenset({".jpg", ".jpeg"})),
    "image/png": (frozenset({"image/png"}), frozenset({".png"})),
    "application/zip": (frozenset({"application/zip"}), frozenset({".zip"})),
    "application/msword": (frozenset({"application/msword", "application/x-ole-storage"}),
                           frozenset({".doc"})),
    "application/vnd.ms-excel": (frozenset({"application/excel", "application/vnd.ms-excel",
                                            "application/x-ole-storage"}),
                                 frozenset({".xls"})),
    _DOCX: (frozenset({_DOCX}), frozenset({".docx"})),
    _XLSX: (frozenset({_XLSX}), frozenset({".xlsx"})),
}
MEDIA_TYPES = frozenset(ACCEPTED)


def _refuse(zh: str, en: str) -> Refused:
    return Refused(refusal("INPUT", RefusalKind.INPUT, zh, en))


def sniffed_types(data: bytes) -> list[str]:
    """Candidate media types of the bytes, most likely first (empty: not recognised)."""
    try:
        return [m.mime_type for m in puremagic.magic_string(data) if m.mime_type]
    except puremagic.PureError:
        return []


def check_upload(data: bytes, filename: str, declared: str) -> str:
    """The sniffed media type when the bytes, the declared type and the extension agree;
    otherwise a refusal (422) naming what disagrees."""
    if declared not in ACCEPTED:
        raise _refuse(f"不支持的文件类型：{declared or '未知'}",
                      f"unsupported media type {declared or 'unknown'}")
    kinds, extensions = ACCEPTED[declared]
    dot = filename.rfind(".")
    extension = filename[dot:].lower() if dot > 0 else ""
    if extension not in extensions:
        raise _refuse(f"文件扩展名“{extension or '无'}”与声明的类型{declared}不符"
                      f"（应为{'、'.join(sorted(extensions))}）",
                      f"the extension '{extension or 'none'}' does not match the declared "
                      f"type {declared} (expected {', '.join(sorted(extensions))})")
    found = sniffed_types(data)
    match = next((t for t in found if t in kinds), None)
    if match is None:
        what = found[0] if found else "未能识别 / unrecognised"
        raise _refuse(f"文件内容与声明的类型{declared}不符（实际识别为：{what}）",
                      f"the file's content does not match the declared type {declared} "
                      f"(its bytes look like: {found[0] if found else 'nothing recognised'})")
    return match
