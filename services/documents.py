"""What an uploaded file really is: its bytes are identified by `puremagic` (a maintained
content-sniffing library, no hand-written magic numbers here), and must agree with both the
media type the client declared and the file name's extension. The sniffed type is stored
with the document."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import puremagic
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.actions import Action
from domain.decisions import Actor
from domain.refusals import RefusalKind, Refused, refusal
from models import Document
from services.decisions import make_decision
from services.projects import handle_for
from workflows.project import ProjectWorkflow

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


class Stored(BaseModel):
    sha256: str
    size: int
    media_type: str
    kind: str
    new: bool


def _store(db: sessionmaker[Session], storage_dir: Path, data: bytes, digest: str,
           media_type: str, user_id: str, sniffed_type: str | None) -> None:
    """The bytes, once, under their sha256 (the same file uploaded twice is one)."""
    key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    path = storage_dir / key
    with db.begin() as s:
        if s.get(Document, digest) is not None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        s.add(Document(sha256=digest, size=len(data), media_type=media_type, storage_key=key,
                       uploaded_by=user_id, uploaded_at=datetime.now(UTC),
                       sniffed_type=sniffed_type))


async def upload(*, client: Client, db: sessionmaker[Session], storage_dir: Path,
                 project_id: str, actor: Actor, data: bytes, filename: str,
                 media_type: str, kind: str, request_id: str) -> Stored:
    """Store the bytes (checked to be what they claim), then attach them to the project as
    its workflow's decision `attach_document`, which refuses application documents once
    the application is frozen (R11) or the applicant's deadline has passed."""
    sniffed = check_upload(data, filename, media_type)
    digest = hashlib.sha256(data).hexdigest()
    view = await handle_for(client, project_id).query(ProjectWorkflow.view)
    if any(d.sha256 == digest and d.kind == kind for d in view.documents):
        return Stored(sha256=digest, size=len(data), media_type=media_type, kind=kind,
                      new=False)
    await asyncio.to_thread(_store, db, storage_dir, data, digest, media_type,
                            actor.user_id, sniffed)
    await make_decision(client=client, db=db, project_id=project_id,
                        action=Action.ATTACH_DOCUMENT, actor=actor, reason="", evidence=[],
                        payload={"sha256": digest, "kind": kind, "media_type": media_type,
                                 "size": len(data), "filename": filename},
                        request_id=request_id)
    return Stored(sha256=digest, size=len(data), media_type=media_type, kind=kind, new=True)
