"""Builders of real spreadsheet files for the reading tests: XLSX through openpyxl (patched
in the zip where openpyxl cannot write something, such as a formula's cached value), ODS
and legacy XLS written by hand (no odfpy, no xlwt here), and a minimal OLE2 container.
Nothing binary is committed: every file is made in the test's tmp_path."""
import re
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest

@pytest.fixture
def files(tmp_path):
    return Files(tmp_path)


class Files:
    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / name

    def bytes(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        path.write_bytes(data)
        return path

    def csv(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        return self.bytes(name, text.encode(encoding))

    def xlsx(self, name: str, sheets: dict[str, list[list]]) -> Path:
        """{sheet name: rows}; None is an empty cell."""
        workbook = openpyxl.Workbook()
        workbook.remove(workbook.active)
        for title, rows in sheets.items():
            sheet = workbook.create_sheet(title)
            for row in rows:
                sheet.append(row)
        path = self.path(name)
        workbook.save(path)
        return path

    def patch_zip(self, source: Path, name: str, member: str, change) -> Path:
        """A copy of the zip `source` whose `member` (text) went through `change`."""
        path = self.path(name)
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w",
                                                             zipfile.ZIP_DEFLATED) as new:
            for item in old.infolist():
                data = old.read(item.filename)
                if item.filename == member:
                    data = change(data.decode("utf-8")).encode("utf-8")
                new.writestr(item.filename, data)
        return path

    def xlsx_cells(self, name: str, extra_cells: str, dimension: str | None = None) -> Path:
        """A one-sheet XLSX (header Název, IČO and one row) with raw cell XML appended to
        its sheet data, and optionally another declared dimension."""
        base = self.xlsx(f"base-{name}", {"List1": [["Název", "IČO"], ["Firma", "01569651"]]})

        def change(xml: str) -> str:
            xml = xml.replace("</sheetData>", extra_cells + "</sheetData>")
            if dimension:
                xml = re.sub(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{dimension}"/>',
                             xml)
            return xml
        return self.patch_zip(base, name, "xl/worksheets/sheet1.xml", change)

    def ods(self, name: str, tables: dict[str, str], encrypted: bool = False) -> Path:
        """{table name: raw <table:table-row> XML}."""
        body = "".join(f'<table:table table:name="{title}">{rows}</table:table>'
                       for title, rows in tables.items())
        content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
                   f'{ODS_NAMESPACES} office:version="1.2"><office:body><office:spreadsheet>'
                   f'{body}</office:spreadsheet></office:body></office:document-content>')
        entry = ('<manifest:file-entry manifest:full-path="content.xml" '
                 'manifest:media-type="text/xml">'
                 + ('<manifest:encryption-data manifest:checksum-type="SHA1/1K"/>'
                    if encrypted else '') + '</manifest:file-entry>')
        manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                    '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/'
                    f'vnd.oasis.opendocument.spreadsheet"/>{entry}</manifest:manifest>')
        path = self.path(name)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("mimetype", ODS_MIMETYPE)  # first and stored, as the spec wants
            archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
            archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        return path

    def xls(self, name: str, sheets: dict[str, list[list]], encrypted: bool = False) -> Path:
        return self.bytes(name, cfb({"Workbook": biff8(sheets, encrypted)}))

    @staticmethod
    def cfb(streams: dict[str, bytes]) -> bytes:
        return cfb(streams)

    @staticmethod
    def ods_row(*cells, repeat: int = 1, tail: str = "") -> str:
        return ods_row(*cells, repeat=repeat, tail=tail)


ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
ODS_NAMESPACES = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                  'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                  'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def ods_row(*cells, repeat: int = 1, tail: str = "") -> str:
    """A table row of text / number cells (None: an empty cell); `tail`: raw cells after."""
    def cell(value):
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, str):
            return (f'<table:table-cell office:value-type="string"><text:p>{value}</text:p>'
                    "</table:table-cell>")
        return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>")
    repeated = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-row{repeated}>{''.join(map(cell, cells))}{tail}</table:table-row>"


# -- a minimal OLE2 compound file (MS-CFB, version 3, 512-byte sectors) ----------------------

SECTOR = 512
END_OF_CHAIN, FREE, FAT_SECTOR, NO_STREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def cfb(streams: dict[str, bytes]) -> bytes:
    """A compound file holding `streams` in its root storage. Each stream is padded to
    4096 bytes so that it lives in regular sectors (no mini stream to write)."""
    streams = {name: data.ljust(4096, b"\0") for name, data in streams.items()}
    entries = 1 + len(streams)
    directory_sectors = -(-entries * 128 // SECTOR)
    fat = [FAT_SECTOR] + _chain(1, directory_sectors)
    starts = []
    for data in streams.values():
        starts.append(len(fat))
        fat += _chain(len(fat), -(-len(data) // SECTOR))
    assert len(fat) <= SECTOR // 4, "the test container has one FAT sector"
    fat += [FREE] * (SECTOR // 4 - len(fat))

    names = list(streams)
    directory = _dir_entry("Root Entry", 5, END_OF_CHAIN, 0, child=1 if names else NO_STREAM)
    for index, name in enumerate(names):
        # the siblings as a chain of right children (a valid, if lopsided, tree) in the
        # order CFB sorts names: shorter first, then by upper case
        right = index + 2 if index + 1 < len(names) else NO_STREAM
        directory += _dir_entry(name, 2, starts[index], len(streams[name]), right=right)
    directory = directory.ljust(directory_sectors * SECTOR, b"\0")

    header = (bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16)
              + struct.pack("<HHHHH6sIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, bytes(6), 0, 1, 1, 0,
                            4096, END_OF_CHAIN, 0, END_OF_CHAIN, 0)
              + struct.pack("<I", 0) + struct.pack("<108I", *[FREE] * 108))
    body = b"".join(data.ljust(-(-len(data) // SECTOR) * SECTOR, b"\0")
                    for data in streams.values())
    return header + struct.pack("<128I", *fat) + directory + body


def _chain(first: int, count: int) -> list[int]:
    return [first + i + 1 for i in range(count - 1)] + [END_OF_CHAIN]


def _dir_entry(name: str, kind: int, start: int, size: int, left=NO_STREAM, right=NO_STREAM,
               child=NO_STREAM) -> bytes:
    encoded = name.encode("utf-16-le") + b"\0\0"
    return (encoded.ljust(64, b"\0") + struct.pack("<HBBIII", len(encoded), kind, 1, left,
                                                   right, child)
            + bytes(16 + 4 + 16) + struct.pack("<IQ", start, size))


# -- a minimal BIFF8 workbook stream (what Excel 97-2003 writes into "Workbook") --------------

def _record(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(sheet_type: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, sheet_type, 0x0DBB, 0x07CC, 0, 6))


def _xf(format_index: int, style: bool) -> bytes:
    # font, number format, flags (style XF or cell XF of style 0), then alignment/borders
    flags = 0xFFF5 if style else 0x0001
    return _record(0x00E0, struct.pack("<HHH", 0, format_index, flags) + bytes(14))


def biff8(sheets: dict[str, list[list]], encrypted: bool = False) -> bytes:
    """Cells: str (through the shared string table), int/float, bool, datetime.date (a
    number with a date format, as Excel stores dates), None (no record)."""
    import datetime
    strings: list[str] = []
    sheet_streams = []
    for rows in sheets.values():
        cells = b""
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    cells += _record(0x0205, struct.pack("<HHHBB", r, c, 15, int(value), 0))
                elif isinstance(value, datetime.date):
                    serial = (value - datetime.date(1899, 12, 30)).days
                    cells += _record(0x0203, struct.pack("<HHHd", r, c, 16, serial))
                elif isinstance(value, (int, float)):
                    cells += _record(0x0203, struct.pack("<HHHd", r, c, 15, value))
                else:
                    strings.append(value)
                    cells += _record(0x00FD, struct.pack("<HHHI", r, c, 15, len(strings) - 1))
        width = max((len(row) for row in rows), default=0)
        sheet_streams.append(_bof(0x10) + _record(0x0200, struct.pack(
            "<IIHHH", 0, len(rows), 0, width, 0)) + cells + _record(0x000A))

    sst = struct.pack("<II", len(strings), len(strings)) + b"".join(
        struct.pack("<HB", len(text), 1) + text.encode("utf-16-le") for text in strings)
    # 15 style XFs and the cell XF 15 (General) that Excel always has, then 16 (a date)
    xfs = b"".join(_xf(0, True) for _ in range(15)) + _xf(0, False) + _xf(14, False)
    globals_head = _bof(0x05) + (_record(0x002F, bytes(6)) if encrypted else b"") \
        + _record(0x0042, struct.pack("<H", 1200)) + _record(0x0022, struct.pack("<H", 0)) \
        + _record(0x0031, struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + b"\x05\x01"
                  + "Arial".encode("utf-16-le")) * 5 + xfs
    sheet_names = list(sheets)
    boundsheets_size = sum(4 + 8 + len(name) * 2 for name in sheet_names)
    tail = _record(0x00FC, sst) + _record(0x000A)
    offset = len(globals_head) + boundsheets_size + len(tail)
    boundsheets = b""
    for name, stream in zip(sheet_names, sheet_streams):
        boundsheets += _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name), 1)
                               + name.encode("utf-16-le"))
        offset += len(stream)
    return globals_head + boundsheets + tail + b"".join(sheet_streams)
