"""Small, valid PDFs for tests and for the sample corpus's PDF (one text line per row,
Helvetica, US Letter). No PDF-writing library is a dependency, and pypdf only reads text, so
this writes the few objects a text PDF needs.

Regenerate the committed sample: `python -m tests.app.pdfs` (a test checks it is current).
"""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLE_PDF = Path(__file__).resolve().parents[2] / "docs" / "sample" / "incident-checklist.pdf"

SAMPLE_PAGES = [
    [
        "Incident checklist - page 1: declare and assess",
        "",
        "Declare an incident when users cannot get answers: the API 5XX rate alarm fires,",
        "the p99 latency alarm stays red for ten minutes, or /ready answers 503 on every task.",
        "Name one incident lead. The lead decides; everyone else investigates and reports.",
        "Open the incident channel and post the first status update within fifteen minutes.",
        "Severity 1: no answers for anyone. Severity 2: slow or partial answers.",
        "Severity 3: one feature degraded, for example streaming or generated answers.",
    ],
    [
        "Incident checklist - page 2: mitigate",
        "",
        "Mitigate first, find the root cause later.",
        "If a release went out in the last hour, roll back to the previous good commit SHA",
        "with the rollout workflow; do not wait for a fix to be written.",
        "If Bedrock is throttled or down, unset BEDROCK_MODEL_ID to serve extractive answers.",
        "If Qdrant is down, the service answers 503; fail over or restore the cluster.",
        "Record every action with its time in the incident channel.",
    ],
    [
        "Incident checklist - page 3: close and review",
        "",
        "Close the incident when the alarms are green for thirty minutes.",
        "Write the post-incident review within five working days: a timeline, the impact,",
        "the contributing causes and the follow-up issues with owners.",
        "Reviews are blameless: they ask what made the mistake easy, not who made it.",
    ],
]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with one page per list of lines."""
    objects: list[bytes] = []
    n_pages = len(pages)
    # 1: catalog, 2: page tree, 3: font, then for each page: page object, content stream.
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        body = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({_escape(x)}) Tj T*" for x in lines)
        stream = (body + " ET").encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def main() -> int:
    SAMPLE_PDF.write_bytes(make_pdf(SAMPLE_PAGES))
    print(f"wrote {SAMPLE_PDF}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
