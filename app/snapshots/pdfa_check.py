"""A structural PDF/A-3b check of a snapshot, short of a full validator.

veraPDF is not installable here (not in Debian, PyPI or npm), so this checks what can be
checked from the file's structure: the PDF/A identification and extension schemas in the XMP,
the output intent, every font embedded, associated files declared as ISO 19005-3 asks, nothing
that PDF/A forbids (encryption, JavaScript, LZW, external streams, image interpolation), and
qpdf's syntax check. `check_pdfa` is the one entry point, so a veraPDF run can replace it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pikepdf

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"
PDFA_SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"
# Schemas PDF/A lets a file use without describing them in a pdfaExtension block.
PREDEFINED_XMP_NAMESPACES = {
    RDF,
    "adobe:ns:meta/",
    "http://purl.org/dc/elements/1.1/",
    "http://ns.adobe.com/xap/1.0/",
    "http://ns.adobe.com/xap/1.0/mm/",
    "http://ns.adobe.com/xap/1.0/rights/",
    "http://ns.adobe.com/xap/1.0/bj/",
    "http://ns.adobe.com/xap/1.0/t/pg/",
    "http://ns.adobe.com/xap/1.0/g/img/",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "http://ns.adobe.com/xap/1.0/sType/Version#",
    "http://ns.adobe.com/xap/1.0/sType/Job#",
    "http://ns.adobe.com/pdf/1.3/",
    "http://ns.adobe.com/photoshop/1.0/",
    "http://ns.adobe.com/tiff/1.0/",
    "http://ns.adobe.com/exif/1.0/",
    "http://ns.adobe.com/exif/1.0/aux/",
    "http://ns.adobe.com/camera-raw-settings/1.0/",
    PDFAID,
    "http://www.aiim.org/pdfa/ns/extension/",
    PDFA_SCHEMA,
    "http://www.aiim.org/pdfa/ns/property#",
    "http://www.aiim.org/pdfa/ns/type#",
    "http://www.aiim.org/pdfa/ns/field#",
    "http://www.aiim.org/pdfua/ns/id/",
    "http://www.w3.org/XML/1998/namespace",
}
FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
AF_RELATIONSHIPS = {"/Source", "/Data", "/Alternative", "/Supplement", "/EncryptedPayload",
                    "/FormData", "/Schema", "/Unspecified"}  # fmt: skip


def check_pdfa(pdf_bytes: bytes, *, part: int = 3, conformance: str = "B") -> list[str]:
    """Problems that keep `pdf_bytes` from being PDF/A-<part><conformance>; empty when none
    were found."""
    try:
        pdf = pikepdf.open(io.BytesIO(pdf_bytes))
    except pikepdf.PdfError as exc:
        return [f"not a readable PDF: {exc}"]
    with pdf:
        problems: list[str] = []
        problems += [f"syntax: {p}" for p in pdf.check_pdf_syntax()]
        problems += _file_level(pdf, pdf_bytes)
        problems += _metadata(pdf, part, conformance)
        problems += _output_intent(pdf)
        problems += _fonts_and_images(pdf)
        problems += _associated_files(pdf)
        problems += _forbidden_actions(pdf)
        return problems


def _file_level(pdf: pikepdf.Pdf, data: bytes) -> list[str]:
    problems = []
    if not data.startswith(b"%PDF-1."):
        problems.append("the file does not start with a %PDF-1.x header")
    elif data[8:9] != b"\n" and data[8:10] != b"\r\n" and data[8:9] != b"\r":
        problems.append("the header line must end right after the version")
    # A comment of four bytes above 127 must follow the header (binary file marker).
    second_line = data.split(b"\n", 2)[1] if data.count(b"\n") >= 2 else b""
    if not (second_line.startswith(b"%") and sum(b > 127 for b in second_line[1:5]) == 4):
        problems.append("the header is not followed by a binary comment of four bytes > 127")
    if pdf.is_encrypted:
        problems.append("the file is encrypted")
    file_id = pdf.trailer.get("/ID")
    if not isinstance(file_id, pikepdf.Array) or len(file_id) != 2:
        problems.append("the trailer has no file identifier (/ID)")
    return problems


def _xmp_tree(pdf: pikepdf.Pdf) -> tuple[ElementTree.Element | None, list[str]]:
    metadata = pdf.Root.get("/Metadata")
    if not isinstance(metadata, pikepdf.Stream):
        return None, ["the catalog has no XMP metadata stream"]
    problems = []
    if metadata.get("/Type") != "/Metadata" or metadata.get("/Subtype") != "/XML":
        problems.append("the metadata stream is not /Type /Metadata /Subtype /XML")
    packet = metadata.read_bytes()
    if b"bytes=" in packet.split(b"?>", 1)[0] or b"encoding=" in packet.split(b"?>", 1)[0]:
        problems.append("the XMP packet header uses the bytes or encoding attribute")
    start = packet.find(b"<x:xmpmeta")
    end = packet.rfind(b"</x:xmpmeta>")
    if start < 0 or end < 0:
        return None, [*problems, "the XMP packet has no x:xmpmeta element"]
    try:
        return ElementTree.fromstring(packet[start : end + len(b"</x:xmpmeta>")]), problems
    except ElementTree.ParseError as exc:
        return None, [*problems, f"the XMP is not well-formed XML: {exc}"]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _metadata(pdf: pikepdf.Pdf, part: int, conformance: str) -> list[str]:
    tree, problems = _xmp_tree(pdf)
    if tree is None:
        return problems
    wanted = f"{part}{conformance}"
    status = pdf.open_metadata().pdfa_status
    if status != wanted:
        problems.append(f"the XMP identifies the file as PDF/A '{status}', not '{wanted}'")
    found_part = found_conformance = None
    for description in tree.iter(f"{{{RDF}}}Description"):
        found_part = description.get(f"{{{PDFAID}}}part", found_part)
        found_conformance = description.get(f"{{{PDFAID}}}conformance", found_conformance)
        for child in description:
            if child.tag == f"{{{PDFAID}}}part":
                found_part = child.text
            elif child.tag == f"{{{PDFAID}}}conformance":
                found_conformance = child.text
    if found_part != str(part) or found_conformance != conformance:
        problems.append(
            f"pdfaid:part/conformance are {found_part}/{found_conformance}, not {part}/{conformance}"
        )
    declared = {
        (element.text or "").strip()
        for element in tree.iter(f"{{{PDFA_SCHEMA}}}namespaceURI")
        if element.text
    }
    used: set[str] = set()
    for description in tree.iter(f"{{{RDF}}}Description"):
        used.update(_namespace(name) for name in description.attrib)
        used.update(_namespace(child.tag) for child in description)
    for namespace in sorted(used - PREDEFINED_XMP_NAMESPACES - declared - {""}):
        problems.append(f"XMP properties in {namespace} have no PDF/A extension schema")
    return problems


def _output_intent(pdf: pikepdf.Pdf) -> list[str]:
    intents = pdf.Root.get("/OutputIntents")
    if not isinstance(intents, pikepdf.Array) or len(intents) == 0:
        return ["the catalog has no output intent"]
    problems = []
    pdfa_intents = [i for i in intents if i.get("/S") == "/GTS_PDFA1"]
    if not pdfa_intents:
        problems.append("no output intent has /S /GTS_PDFA1")
    profiles = {i["/DestOutputProfile"].objgen for i in pdfa_intents if "/DestOutputProfile" in i}
    if len(profiles) != 1:
        problems.append("the PDF/A output intent must carry exactly one ICC profile")
    for intent in pdfa_intents:
        profile = intent.get("/DestOutputProfile")
        if not isinstance(profile, pikepdf.Stream):
            continue
        data = profile.read_bytes()
        if len(data) < 132 or data[36:40] != b"acsp":
            problems.append("the output intent's ICC profile is not an ICC profile")
        elif data[16:20] not in (b"RGB ", b"GRAY", b"CMYK"):
            problems.append("the output intent's ICC profile has an unusable colour space")
    return problems


def _resources(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    """Every resource dictionary reachable from the pages (forms and patterns included)."""
    seen: set[tuple[int, int]] = set()
    pending: list[Any] = [page.obj.get("/Resources") for page in pdf.pages]
    for page in pdf.pages:
        for annotation in page.obj.get("/Annots", []):
            appearance = annotation.get("/AP")
            if isinstance(appearance, pikepdf.Dictionary):
                for state in appearance.values():
                    if isinstance(state, pikepdf.Stream):
                        pending.append(state.get("/Resources"))
    while pending:
        resources = pending.pop()
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        if resources.is_indirect:
            if resources.objgen in seen:
                continue
            seen.add(resources.objgen)
        yield resources
        for group in ("/XObject", "/Pattern"):
            for item in resources.get(group, {}).values():
                if isinstance(item, pikepdf.Dictionary | pikepdf.Stream) and "/Resources" in item:
                    pending.append(item.get("/Resources"))
        for font in resources.get("/Font", {}).values():
            if font.get("/Subtype") == "/Type3" and "/Resources" in font:
                pending.append(font.get("/Resources"))


def _fonts_and_images(pdf: pikepdf.Pdf) -> list[str]:
    problems: list[str] = []
    checked: set[tuple[int, int]] = set()
    for resources in _resources(pdf):
        for name, font in resources.get("/Font", {}).items():
            if font.is_indirect:
                if font.objgen in checked:
                    continue
                checked.add(font.objgen)
            subtype = font.get("/Subtype")
            if subtype == "/Type3":
                continue
            descendants = font.get("/DescendantFonts")
            if subtype == "/Type0" and not isinstance(descendants, pikepdf.Array):
                problems.append(f"composite font {font.get('/BaseFont', name)} has no descendant")
                continue
            target = descendants[0] if isinstance(descendants, pikepdf.Array) else font
            descriptor = target.get("/FontDescriptor")
            base = str(font.get("/BaseFont", name))
            if not isinstance(descriptor, pikepdf.Dictionary) or not any(
                key in descriptor for key in FONT_FILES
            ):
                problems.append(f"font {base} is not embedded")
        for name, xobject in resources.get("/XObject", {}).items():
            if xobject.get("/Subtype") != "/Image":
                continue
            for image in (xobject, xobject.get("/SMask")):
                if not isinstance(image, pikepdf.Stream):
                    continue
                if bool(image.get("/Interpolate", False)):
                    problems.append(f"image {name} asks for interpolation")
                if "/Alternates" in image or "/OPI" in image:
                    problems.append(f"image {name} has alternates or OPI")
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            filters = obj.get("/Filter")
            names = list(filters) if isinstance(filters, pikepdf.Array) else [filters]
            if pikepdf.Name("/LZWDecode") in names:
                problems.append(f"object {obj.objgen[0]} uses LZW compression")
            if "/F" in obj and obj.get("/Type") != "/EmbeddedFile":
                problems.append(f"object {obj.objgen[0]} is an external stream")
    return problems


def _name_tree_values(node: Any) -> Iterator[Any]:
    if not isinstance(node, pikepdf.Dictionary):
        return
    names = node.get("/Names")
    if isinstance(names, pikepdf.Array):
        for i in range(1, len(names), 2):
            yield names[i]
    for kid in node.get("/Kids", []):
        yield from _name_tree_values(kid)


def _associated_files(pdf: pikepdf.Pdf) -> list[str]:
    problems: list[str] = []
    names = pdf.Root.get("/Names")
    tree = names.get("/EmbeddedFiles") if isinstance(names, pikepdf.Dictionary) else None
    specs = list(_name_tree_values(tree))
    catalog_af = pdf.Root.get("/AF")
    af_ids = [item.objgen for item in catalog_af] if isinstance(catalog_af, pikepdf.Array) else []
    if len(af_ids) != len(set(af_ids)):
        problems.append("the catalog's /AF array lists a file more than once")
    for spec in specs:
        label = str(spec.get("/UF", spec.get("/F", "?")))
        if spec.get("/Type") != "/Filespec":
            problems.append(f"embedded file {label} is not a /Filespec")
        if "/F" not in spec or "/UF" not in spec:
            problems.append(f"embedded file {label} lacks /F or /UF")
        relationship = spec.get("/AFRelationship")
        if relationship is None:
            problems.append(f"embedded file {label} has no /AFRelationship")
        elif str(relationship) not in AF_RELATIONSHIPS:
            problems.append(f"embedded file {label} has an unknown relationship {relationship}")
        if not spec.is_indirect or spec.objgen not in af_ids:
            problems.append(f"embedded file {label} is not associated (missing from /AF)")
        stream = spec.get("/EF", {}).get("/F")
        if not isinstance(stream, pikepdf.Stream):
            problems.append(f"embedded file {label} has no file stream")
            continue
        if "/Subtype" not in stream:
            problems.append(f"embedded file {label} has no MIME type (/Subtype)")
        params = stream.get("/Params")
        if not isinstance(params, pikepdf.Dictionary) or "/ModDate" not in params:
            problems.append(f"embedded file {label} has no modification date")
    return problems


def _forbidden_actions(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/JavaScript" in names:
        problems.append("the file carries JavaScript")
    if "/AA" in pdf.Root:
        problems.append("the catalog has additional actions (/AA)")
    open_action = pdf.Root.get("/OpenAction")
    if isinstance(open_action, pikepdf.Dictionary) and open_action.get("/S") in (
        "/JavaScript",
        "/Launch",
    ):
        problems.append("the file runs an action when opened")
    for number, page in enumerate(pdf.pages, start=1):
        for annotation in page.obj.get("/Annots", []):
            flags = int(annotation.get("/F", 0))
            subtype = annotation.get("/Subtype")
            if subtype != "/Popup" and not flags & 4:
                problems.append(f"page {number}: a {subtype} annotation is not set to print")
            if flags & (1 | 2 | 32):
                problems.append(f"page {number}: a {subtype} annotation is hidden or invisible")
            action = annotation.get("/A")
            if isinstance(action, pikepdf.Dictionary) and action.get("/S") in (
                "/JavaScript",
                "/Launch",
            ):
                problems.append(f"page {number}: a link runs {action.get('/S')}")
    return problems
