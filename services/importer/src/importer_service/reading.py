"""Opening an uploaded spreadsheet or CSV safely: the format from its bytes, hostile files
(zip bombs, sparse giant sheets, encrypted workbooks, binaries) refused before a parser
sees them, the header row found below title rows, the rows iterated without holding the
sheet as Python objects. Plain Python; python-calamine reads XLSX, XLS and ODS."""
import codecs
import csv
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import python_calamine
from xlrd.compdoc import CompDoc, CompDocError

from .mapping import target_for


class Refused(Exception):
    """The file cannot be imported. code: a short machine code ("empty", "encrypted",
    "broken", "too_many_cells", "too_many_columns", "zip_bomb", "unsupported", "no_header",
    "sheet_not_found", "too_many_rows"); cs / en: the reason for the user."""

    def __init__(self, code: str, cs: str, en: str):
        super().__init__(en)
        self.code, self.cs, self.en = code, cs, en


@dataclass
class Limits:
    max_rows: int = 1_000_000
    max_columns: int = 500
    max_cells: int = 8_000_000  # rows x columns the parser would hold (~31 bytes each)
    max_uncompressed: int = 1_000_000_000  # all zip members together, decompressed
    max_ratio: int = 200  # decompressed / compressed of a member over BOMB_MIN_SIZE


BOMB_MIN_SIZE = 1_000_000  # smaller members may compress as well as they like
HEADER_SEARCH_ROWS = 30  # the header is looked for among this many non-empty rows
SAMPLE_ROWS = 200  # columns without a heading are kept when these rows have values there
CHUNK = 1 << 20


def open_table(path, file_name: str, sheet: str | None = None, limits: Limits = Limits(),
               known_headings=None) -> "Table":
    """The table of the file at `path` (`file_name` as the user named it, for messages).
    known_headings: custom field definitions whose labels count as recognised headings
    when the header row is looked for, or a function heading -> bool."""
    path = Path(path)
    with open(path, "rb") as file:
        head = file.read(8)
    if not head:
        raise Refused("empty", f"Soubor {file_name} je prázdný.", f"The file {file_name} is empty.")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        workbook, format = _open_zip(path, file_name, limits)
    elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        workbook, format = _open_ole(path, file_name), "xls"
    else:
        return _open_csv(path, file_name, head, limits, _recogniser(known_headings))
    return _open_sheet(workbook, format, file_name, sheet, limits, _recogniser(known_headings))


class Table:
    """format "csv" | "xlsx" | "xls" | "ods"; sheets (names, [] for CSV); sheet (the one
    read, None for CSV); encoding and delimiter (CSV only); header_row (1-based row number
    in the file); headers (the kept columns' headings); rows() and count_rows()."""

    def __init__(self, format, raw_rows, limits: Limits, recognise, file_name, sheets=(),
                 sheet=None, encoding=None, delimiter=None, first_column=0):
        self.format, self.sheets, self.sheet = format, list(sheets), sheet
        self.encoding, self.delimiter = encoding, delimiter
        self._raw_rows, self._limits, self._file_name = raw_rows, limits, file_name
        sample = raw_rows()
        try:
            self.header_row, self.headers, self._columns = _find_header(
                sample, recognise, first_column, limits, file_name)
        finally:
            sample.close()  # a CSV's file

    def rows(self, start_after: int = 0):
        """(row number in the file, values aligned with headers) of the non-empty rows
        below the header; rows numbered up to start_after are skipped (a resumed job)."""
        columns, seen = self._columns, 0
        for number, cells in self._raw_rows():
            if number <= self.header_row:
                continue
            values = [cells[i] if i < len(cells) else None for i in columns]
            if all(value is None for value in values):
                continue
            seen += 1
            if seen > self._limits.max_rows:
                raise _too_many_rows(self._file_name, self._limits)
            if number > start_after:
                yield number, values

    def count_rows(self) -> int:
        return sum(1 for _ in self.rows())


def _too_many_rows(file_name, limits):
    return Refused("too_many_rows",
                   f"Soubor {file_name} má víc než {limits.max_rows} řádků; rozdělte ho.",
                   f"The file {file_name} has more than {limits.max_rows} rows; split it.")


def _recogniser(known_headings):
    if callable(known_headings):
        return known_headings
    definitions = list(known_headings or ())
    return lambda heading: target_for(heading, definitions) is not None


def _blank(cell) -> bool:
    return cell is None or cell == "" or (isinstance(cell, str) and not cell.strip())


def _find_header(raw_rows, recognise, first_column, limits, file_name):
    """(row number, headings, kept column indices): the row with the most recognised
    headings among the first non-empty rows (ties: the earlier), else the first with two
    text cells. Columns with neither a heading nor a value in the sample are dropped."""
    sample = []
    for number, cells in raw_rows:
        if not all(map(_blank, cells)):
            sample.append((number, cells))
            if len(sample) >= SAMPLE_ROWS:
                break
    if not sample:
        raise Refused("empty", f"V souboru {file_name} nejsou žádná data.",
                      f"The file {file_name} has no data.")
    candidates = sample[:HEADER_SEARCH_ROWS]
    scores = [sum(1 for cell in cells if isinstance(cell, str) and recognise(cell.strip()))
              for _, cells in candidates]
    if max(scores) > 0:
        index = scores.index(max(scores))
    else:
        index = next((i for i, (_, cells) in enumerate(candidates)
                      if sum(1 for cell in cells if isinstance(cell, str) and not _blank(cell))
                      >= 2), None)
        if index is None:
            raise Refused("no_header",
                          f"V souboru {file_name} jsme nenašli řádek se záhlavím sloupců "
                          "(např. Název, IČO, E-mail).",
                          f"No header row found in {file_name} (column headings such as "
                          "Name, Company ID, E-mail).")
    header_number, header = sample[index]
    below = [cells for _, cells in sample[index + 1:]]
    width = max(_width(cells) for cells in [header] + below)
    if width > limits.max_columns:
        raise Refused("too_many_columns",
                      f"Soubor {file_name} má {width} sloupců; nejvýš {limits.max_columns}.",
                      f"The file {file_name} has {width} columns; at most "
                      f"{limits.max_columns}.")
    headers, columns = [], []
    for i in range(width):
        heading = header[i] if i < len(header) else None
        if _blank(heading) and all(i >= len(cells) or _blank(cells[i]) for cells in below):
            continue
        columns.append(i)
        headers.append(_heading_text(heading) if not _blank(heading)
                       else f"Sloupec {column_letter(first_column + i)}")
    return header_number, headers, columns


def _width(cells) -> int:
    return max((i + 1 for i, cell in enumerate(cells) if not _blank(cell)), default=0)


def _heading_text(cell) -> str:
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return " ".join(str(cell).split())  # line breaks inside a heading cell too


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (Excel's column names)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


# -- workbooks ------------------------------------------------------------------------------

def _open_sheet(workbook, format, file_name, wanted, limits, recognise) -> Table:
    sheets = [meta.name for meta in workbook.sheets_metadata
              if meta.typ == python_calamine.SheetTypeEnum.WorkSheet]
    if wanted is not None:
        if wanted not in sheets:
            raise Refused("sheet_not_found",
                          f"List {wanted} v souboru {file_name} není; listy: {', '.join(sheets)}.",
                          f"There is no sheet {wanted} in {file_name}; the sheets: "
                          f"{', '.join(sheets)}.")
        chosen = _load_sheet(workbook, wanted, file_name)
    else:
        visible = [meta.name for meta in workbook.sheets_metadata if meta.name in sheets and
                   meta.visible == python_calamine.SheetVisibleEnum.Visible]
        ordered = visible + [name for name in sheets if name not in visible]
        chosen = next((loaded for loaded in (_load_sheet(workbook, name, file_name)
                                             for name in ordered) if _has_data(loaded)), None)
        if chosen is None:
            raise Refused("empty", f"V souboru {file_name} nejsou žádná data.",
                          f"The file {file_name} has no data.")
    top, left = chosen.start or (0, 0)

    def raw_rows():
        for offset, cells in enumerate(chosen.iter_rows()):
            yield top + offset + 1, [None if _blank(cell) else cell for cell in cells]

    table = Table(format, raw_rows, limits, recognise, file_name, sheets=sheets,
                  sheet=chosen.name, first_column=left)
    if chosen.height > limits.max_rows:
        table.count_rows()  # refuses when the non-empty rows are too many
    return table


def _load_sheet(workbook, name, file_name):
    try:
        return workbook.get_sheet_by_name(name)
    except python_calamine.PasswordError:
        raise _encrypted(file_name) from None
    except python_calamine.CalamineError as exc:
        raise _broken(file_name, exc) from None


def _has_data(sheet) -> bool:
    return sheet.height > 0 and any(not _blank(cell) for row in sheet.iter_rows()
                                    for cell in row)


def _calamine(path, file_name):
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        raise _encrypted(file_name) from None
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        raise _broken(file_name, exc) from None


def _broken(file_name, detail=None):
    why = f" ({detail})" if detail else ""
    return Refused("broken", f"Soubor {file_name} je poškozený nebo neúplný{why}.",
                   f"The file {file_name} is damaged or incomplete{why}.")


def _encrypted(file_name):
    return Refused("encrypted",
                   f"Soubor {file_name} je chráněný heslem. Uložte ho bez hesla "
                   "(Soubor > Informace > Zamknout sešit) a nahrajte znovu.",
                   f"The file {file_name} is password-protected. Save it without a "
                   "password and upload it again.")


def _unsupported(file_name, cs_hint="", en_hint=""):
    return Refused("unsupported",
                   f"Soubor {file_name} není tabulka CSV, XLSX, XLS ani ODS.{cs_hint}",
                   f"The file {file_name} is not a CSV, XLSX, XLS or ODS table.{en_hint}")


def _open_ole(path, file_name):
    """An OLE2 container: a legacy XLS, or an encrypted OOXML workbook (Excel wraps those
    in OLE2 with an EncryptionInfo stream), or something else (a .doc)."""
    try:
        document = CompDoc(path.read_bytes(), logfile=io.StringIO())
        names = {entry.name for entry in document.dirlist}
        if names & {"EncryptionInfo", "EncryptedPackage"}:
            raise _encrypted(file_name)
        stream = next((name for name in ("Workbook", "Book") if name in names), None)
        if stream is None:
            raise _unsupported(file_name)
        data = document.get_named_stream(stream) or b""
    except (CompDocError, struct.error, IndexError, ValueError) as exc:  # xlrd's, truncated
        raise _broken(file_name, exc) from None
    if _biff_has_filepass(data):
        raise _encrypted(file_name)
    return _calamine(path, file_name)


def _biff_has_filepass(data: bytes) -> bool:
    """FILEPASS (0x2F) among the first records of the workbook globals: encrypted."""
    offset = 0
    for _ in range(8):
        if offset + 4 > len(data):
            return False
        kind, length = struct.unpack_from("<HH", data, offset)
        if kind == 0x002F:
            return True
        offset += 4 + length
    return False


# -- zip containers: XLSX and ODS --------------------------------------------------------------

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _open_zip(path, file_name, limits):
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            mimetype = archive.read("mimetype")[:200] if "mimetype" in names and \
                archive.getinfo("mimetype").file_size < 200 else b""
            manifest = archive.read("META-INF/manifest.xml") \
                if "META-INF/manifest.xml" in names and \
                archive.getinfo("META-INF/manifest.xml").file_size < 1_000_000 else b""
            sheets = _worksheet_parts(archive, names)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError,
            NotImplementedError, RuntimeError) as exc:
        raise _broken(file_name, exc) from None
    if mimetype.strip() == ODS_MIMETYPE:
        format = "ods"
        if b"encryption-data" in manifest:
            raise _encrypted(file_name)
    elif "xl/workbook.xml" in names:
        format = "xlsx"
    elif "xl/workbook.bin" in names:
        raise _unsupported(file_name, " Uložte ho jako sešit .xlsx (ne binární .xlsb).",
                           " Save it as an .xlsx workbook (not a binary .xlsb).")
    else:
        raise _unsupported(file_name)
    _inspect_zip(path, infos, format, file_name, limits, sheets)
    return _calamine(path, file_name), format


_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\s[^>]*>")
_WORKSHEET_TYPE = re.compile(rb'\sType="[^"]*/worksheet"')
_TARGET = re.compile(rb'\sTarget="([^"]+)"')


def _worksheet_parts(archive, names) -> set[str]:
    """The XLSX members that are worksheets: those in xl/worksheets/ and wherever the
    workbook's relationships point (the parser follows them, so the checks must too)."""
    parts = {name for name in names if name.startswith("xl/worksheets/")}
    rels = "xl/_rels/workbook.xml.rels"
    if rels in names and archive.getinfo(rels).file_size < 1_000_000:
        for tag in _RELATIONSHIP.findall(archive.read(rels)):
            target = _TARGET.search(tag)
            if target and _WORKSHEET_TYPE.search(tag):
                path = target.group(1).decode("utf-8", "replace")
                parts.add(path.lstrip("/") if path.startswith("/")
                          else posixpath.normpath("xl/" + path))
    return parts


def _inspect_zip(path, infos, format, file_name, limits, sheets=frozenset()):
    """Refuses a zip bomb (declared sizes over the limits, a member compressed beyond
    max_ratio, or one that decompresses to more than it declares) and a sheet whose
    cells, as the parser would lay them out, are too many. Every member is decompressed
    once here, in chunks."""
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_uncompressed or any(
            info.file_size > BOMB_MIN_SIZE and
            info.file_size > limits.max_ratio * max(info.compress_size, 1) for info in infos):
        raise _bomb(file_name)
    with open(path, "rb") as file:
        for info in infos:
            if info.flag_bits & 0x1:
                raise _encrypted(file_name)
            if format == "xlsx" and info.filename in sheets:
                _check_dimension(_member_chunks(file, info, file_name), file_name, limits)
                scanner = _XlsxCells()
            elif format == "ods" and info.filename == "content.xml":
                scanner = _OdsCells()
            else:
                scanner = None
            for chunk in _member_chunks(file, info, file_name):
                if scanner:
                    scanner.feed(chunk)
            for shape in scanner.shapes() if scanner else ():
                _check_shape(shape, file_name, limits)


def _bomb(file_name):
    return Refused("zip_bomb",
                   f"Soubor {file_name} se rozbaluje do nepřiměřené velikosti; takový soubor "
                   "nenačteme.",
                   f"The file {file_name} decompresses to an unreasonable size; it is refused.")


def _member_chunks(file, info: zipfile.ZipInfo, file_name):
    """The decompressed bytes of a member, read from its local header on, counted against
    what the central directory declares (a member that inflates beyond its declared size
    is a bomb in disguise)."""
    file.seek(info.header_offset)
    local = file.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise _broken(file_name, f"{info.filename}: no local header")
    name_length, extra_length = struct.unpack_from("<HH", local, 26)
    file.seek(info.header_offset + 30 + name_length + extra_length)
    if info.compress_type == zipfile.ZIP_STORED:
        inflate = None
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflate = zlib.decompressobj(-15)
    else:
        raise _broken(file_name, f"{info.filename}: compression {info.compress_type}")
    left, produced = info.compress_size, 0
    while left > 0:
        raw = file.read(min(CHUNK, left))
        if not raw:
            raise _broken(file_name, f"{info.filename}: truncated")
        left -= len(raw)
        try:
            chunk = inflate.decompress(raw, CHUNK) if inflate else raw
            while chunk:
                produced += len(chunk)
                if produced > info.file_size:
                    raise _bomb(file_name)
                yield chunk
                # drained until empty: zlib may hold output back when a chunk is full
                chunk = inflate.decompress(inflate.unconsumed_tail, CHUNK) if inflate else b""
        except zlib.error as exc:
            raise _broken(file_name, f"{info.filename}: {exc}") from None
    if produced != info.file_size:
        raise _broken(file_name, f"{info.filename}: {produced} bytes, {info.file_size} declared")


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?([A-Z]{1,3})\$?([0-9]{1,7})'
                        rb'(?::\$?([A-Z]{1,3})\$?([0-9]{1,7}))?"')


def _check_dimension(chunks, file_name, limits):
    """The dimension a worksheet declares (in its first few KB): a declared sheet of a
    billion cells is refused even if its cells are few (the parser may trust it)."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 8192:
            break
    match = _DIMENSION.search(head[:8192])
    if match and match.group(3):
        rows = int(match.group(4)) - int(match.group(2)) + 1
        columns = _column_number(match.group(3)) - _column_number(match.group(1)) + 1
        _check_shape((max(rows, 0), max(columns, 0)), file_name, limits)


def _check_shape(shape, file_name, limits):
    rows, columns = shape
    if rows * columns > limits.max_cells:
        raise Refused("too_many_cells",
                      f"List v souboru {file_name} má {rows} × {columns} buněk; nejvýš "
                      f"{limits.max_cells}.",
                      f"A sheet of {file_name} spans {rows} × {columns} cells; at most "
                      f"{limits.max_cells}.")
    if rows > limits.max_rows + 1:  # the header row on top
        raise _too_many_rows(file_name, limits)


class _XlsxCells:
    """The rows x columns the parser lays a worksheet's cells out in: from the first to the
    last cell that has content (a cell at XFD1048576 makes 17 billion, and calamine
    allocates them all)."""
    # the reference of a non-self-closing cell (self-closing ones are styled empty cells,
    # which the parser skips); only <c> elements have an r="" of letters and digits
    CELL = re.compile(rb'\sr="([A-Z]{1,3})([0-9]{1,7})"[^>]*(?<!/)>')
    # a cell without r="" (allowed) takes its row from <row r="">
    ROW = re.compile(rb'<(?:\w+:)?row\s[^>]*?\br="([0-9]{1,7})"[^>]*(?<!/)>')

    def __init__(self):
        self.tail, self.columns, self.rows, self.row_refs = b"", set(), set(), set()
        self.unreferenced = 0

    def feed(self, chunk: bytes):
        data = self.tail + chunk
        cut = data.rfind(b">") + 1
        data, self.tail = data[:cut], data[cut:]
        found = self.CELL.findall(data)
        if found:
            columns, rows = zip(*found)
            self.columns.update(columns)
            self.rows.update(rows)
        # cells not written as <c r="..."> (rare; counted cheaply, over- rather than under-)
        self.unreferenced += data.count(b"<c ") + data.count(b"<c>") - data.count(b'<c r="')
        if self.unreferenced:
            self.row_refs.update(self.ROW.findall(data))
        for numbers in (self.rows, self.row_refs):  # only the extremes matter
            if len(numbers) > 100_000:
                extremes = {min(numbers, key=int), max(numbers, key=int)}
                numbers.clear()
                numbers.update(extremes)

    def shapes(self):
        rows = {int(row) for row in self.rows}
        if self.unreferenced:
            rows |= {int(row) for row in self.row_refs}
        if not rows or not self.columns:
            return []
        numbers = [_column_number(column) for column in self.columns]
        return [(max(rows) - min(rows) + 1, max(numbers) - min(numbers) + 1)]


class _OdsCells:
    """The rows x columns of each table of an ODS content.xml as the parser expands them:
    number-columns-repeated / number-rows-repeated count for cells that have content
    (trailing repeated empty cells, which every ODS has, do not)."""
    TOKEN = re.compile(rb"<(/?)table:(table-row|table-cell|covered-table-cell|table)\b"
                       rb"([^>]*?)(/?)>")
    COLUMNS = re.compile(rb'table:number-columns-repeated="([0-9]+)"')
    ROWS = re.compile(rb'table:number-rows-repeated="([0-9]+)"')

    def __init__(self):
        self.tail, self.done = b"", []
        self.row = self.max_row = self.max_column = 0
        self.column = self.width = 0
        self.repeat = 1

    def feed(self, chunk: bytes):
        data = self.tail + chunk
        cut = data.rfind(b">") + 1
        data, self.tail = data[:cut], data[cut:]
        for closing, name, attributes, empty in self.TOKEN.findall(data):
            if name == b"table":
                if not closing:
                    self.finish_table()
            elif name == b"table-row":
                if closing:
                    self.end_row()
                else:
                    match = self.ROWS.search(attributes)
                    self.repeat, self.column, self.width = \
                        int(match.group(1)) if match else 1, 0, 0
                    if empty:
                        self.end_row()
            elif not closing:
                match = self.COLUMNS.search(attributes)
                self.column += int(match.group(1)) if match else 1
                if not empty or b"value-type" in attributes:
                    self.width = self.column

    def end_row(self):
        self.row += self.repeat
        if self.width:
            self.max_row, self.max_column = self.row, max(self.max_column, self.width)
        self.repeat, self.width = 1, 0

    def finish_table(self):
        if self.max_row:
            self.done.append((self.max_row, self.max_column))
        self.row = self.max_row = self.max_column = 0

    def shapes(self):
        self.finish_table()
        return self.done


# -- CSV -----------------------------------------------------------------------------------

_BINARY_STARTS = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!",
                  b"7z\xbc\xaf", b"{\\rtf", b"\x00\x00\x01\x00")
_MARKUP = re.compile(rb"\s*(<\?xml|<!doctype|<html|<table)", re.IGNORECASE)
# bytes 0x80-0x9F: printable in Windows-1250 (š ž ť ś ź Š Ž Ť Ś Ź, quotes, dashes), C1
# control characters in ISO-8859-2, which therefore never has them in text
_C1 = bytes(range(0x80, 0xA0))
# letters in ISO-8859-2 (Š Ť Ž Ś Ź š ť ž ś ź) that are symbols in Windows-1250
_ISO_LETTERS = bytes([0xA6, 0xA9, 0xAB, 0xAC, 0xAE, 0xB6, 0xB9, 0xBB, 0xBC, 0xBE])
_CONTROL = bytes(set(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1A})
DELIMITERS = (";", ",", "\t")


def _open_csv(path, file_name, head, limits, recognise) -> Table:
    if head.startswith(_BINARY_STARTS):
        raise _unsupported(file_name)
    with open(path, "rb") as file:
        if _MARKUP.match(file.read(1024)):
            raise _unsupported(
                file_name, " Vypadá jako HTML nebo XML; otevřete ho v Excelu a uložte jako .xlsx.",
                " It looks like HTML or XML; open it in Excel and save it as .xlsx.")
    encoding, lines = _detect_encoding(path, file_name)
    text_encoding = "utf-16" if encoding.startswith("utf-16") else encoding
    delimiter = _detect_delimiter(path, text_encoding)

    def raw_rows():
        with open(path, encoding=text_encoding, errors="replace", newline="") as file:
            reader = csv.reader(file, delimiter=delimiter)
            try:
                for number, cells in enumerate(reader, 1):
                    yield number, [None if _blank(cell) else cell for cell in cells]
            except csv.Error as exc:
                raise _broken(file_name, f"line {reader.line_num}: {exc}; an unclosed "
                                         "quote?") from None

    table = Table("csv", raw_rows, limits, recognise, file_name, encoding=encoding,
                  delimiter=delimiter)
    if lines > limits.max_rows:
        table.count_rows()  # refuses when the records (not lines) are too many
    return table


def _detect_encoding(path, file_name) -> tuple[str, int]:
    """("utf-8-sig" | "utf-16" | "utf-8" | "cp1250" | "iso-8859-2", line count), from one
    pass over the bytes: a BOM; else strict UTF-8 if the whole file decodes; else
    Windows-1250 or ISO-8859-2, told apart by the bytes whose letters differ."""
    with open(path, "rb") as file:
        start = file.read(4)
        file.seek(0)
        if start.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16", _check_utf16(file, file_name)
        utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        is_utf8, lines, c1, iso_letters, controls, total = True, 0, 0, 0, 0, 0
        while chunk := file.read(CHUNK):
            if b"\x00" in chunk:
                raise _unsupported(file_name)
            lines += chunk.count(b"\n")
            total += len(chunk)
            controls += len(chunk) - len(chunk.translate(None, _CONTROL))
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            c1 += len(chunk) - len(chunk.translate(None, _C1))
            iso_letters += len(chunk) - len(chunk.translate(None, _ISO_LETTERS))
        if is_utf8:
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                is_utf8 = False
    if controls > max(total // 100, 2):
        raise _unsupported(file_name)
    if is_utf8:
        return ("utf-8-sig" if start.startswith(codecs.BOM_UTF8) else "utf-8"), lines
    return ("iso-8859-2" if c1 == 0 and iso_letters else "cp1250"), lines


def _check_utf16(file, file_name) -> int:
    decoder = codecs.getincrementaldecoder("utf-16")("strict")
    lines = 0
    try:
        while chunk := file.read(CHUNK):
            text = decoder.decode(chunk)
            if "\x00" in text:
                raise _unsupported(file_name)
            lines += text.count("\n")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _unsupported(file_name) from None
    return lines


def _detect_delimiter(path, encoding) -> str:
    """The candidate that splits the first lines into the most consistent number of
    fields (at least two): with ";" and decimal commas, ";" gives every line the same
    count and "," does not. Ties: ";" (Czech Excel), then ",", then tab."""
    with open(path, encoding=encoding, errors="replace", newline="") as file:
        sample = file.read(65536)
    if len(sample) == 65536:
        sample = sample[:sample.rfind("\n") + 1] or sample
    best, best_score = DELIMITERS[0], (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter)
                      if any(cell.strip() for cell in row)]
        except csv.Error:
            continue
        if not counts:
            continue
        modal, times = Counter(counts).most_common(1)[0]
        score = (times / len(counts), modal) if modal >= 2 else (0.0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best
