"""The client list as a file (`GET /api/v1/clients/export`): CSV in UTF-8 with a BOM and `;`
(what Czech Excel opens as it should) or XLSX, streamed a page at a time, so memory stays
flat whatever the number of clients. A cell that a spreadsheet would run as a formula
(starting with = + - @, a tab or CR) is written as text."""
import csv
import io
import tempfile

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

PAGE = 500  # clients per RPC while exporting
COLUMNS = {  # name: (Czech header, English header)
    "name": ("Název", "Name"), "kind": ("Druh", "Kind"), "ico": ("IČO", "Company ID"),
    "dic": ("DIČ", "VAT ID"), "email": ("E-mail", "E-mail"), "phone": ("Telefon", "Phone"),
    "city": ("Město", "City"), "relationship": ("Vztah", "Relationship"),
    "category": ("Kategorie", "Category"), "tags": ("Štítky", "Tags"),
    "owner_id": ("Vlastník", "Owner"), "parent_id": ("Mateřská firma", "Parent company"),
    "registry": ("Stav v registru", "Registry status"),
    "vat_payer": ("Plátce DPH", "VAT payer"), "website": ("Web", "Website"),
    "industry": ("Obor", "Industry"), "created_at": ("Vytvořeno", "Created"),
    "updated_at": ("Změněno", "Changed"),
}
DEFAULT_COLUMNS = ("name", "ico", "dic", "email", "phone", "city", "relationship",
                   "category", "tags", "created_at")
# the client fields a column is written from (`cell`), where it is not the field itself
SOURCES = {"city": ("registered_address", "contact_address")}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
YES_NO = {"cs": ("ano", "ne"), "en": ("yes", "no")}


def fields_of(columns) -> list[str]:
    """The fields of each client the columns need: all the clients service sends (a
    client's 40 fields read, sent and decoded were most of an export's time)."""
    return list(dict.fromkeys(field for column in columns
                              for field in SOURCES.get(column, (column,))))


def neutralised(text: str) -> str:
    """Text a spreadsheet shows as it is, never runs (OWASP's CSV injection advice)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(client: dict, column: str, lang: str) -> str:
    if column == "city":
        address = client.get("registered_address") or client.get("contact_address") or {}
        value = address.get("city")
    elif column == "tags":
        value = ", ".join(client.get("tags") or [])
    elif column == "registry":
        value = (client.get("registry") or {}).get("status")
    elif column == "vat_payer":
        flag = client.get("vat_payer")
        value = None if flag is None else YES_NO[lang][0 if flag else 1]
    else:
        value = client.get(column)
    return "" if value is None else neutralised(str(value))


def xlsx_safe(value):
    """A cell openpyxl can write: the control characters a workbook cannot hold dropped
    (CSV files may carry them)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def headers(columns, lang: str) -> list[str]:
    return [COLUMNS[column][0 if lang == "cs" else 1] for column in columns]


def csv_stream(pages, columns, lang: str, delimiter: str):
    """The CSV, a page of clients at a time (bytes)."""
    return table_csv(headers(columns, lang), (
        [[cell(client, column, lang) for column in columns] for client in page]
        for page in pages), delimiter)


def xlsx_stream(pages, columns, lang: str, chunk: int = 64 * 1024):
    return table_xlsx("Klienti" if lang == "cs" else "Clients", headers(columns, lang), (
        [[cell(client, column, lang) or None for column in columns] for client in page]
        for page in pages), chunk)


def table_csv(header: list, pages, delimiter: str = ";"):
    """A CSV in UTF-8 with a BOM, a page of rows (lists of cells) at a time (bytes)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    yield "\ufeff".encode() + out.getvalue().encode()
    for page in pages:
        out.seek(0)
        out.truncate()
        writer.writerows(page)
        yield out.getvalue().encode()


def table_xlsx(sheet_name: str, header: list, pages, chunk: int = 64 * 1024):
    """The workbook, written row by row (openpyxl's write-only mode) into a temporary
    file, then sent from it."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append(header)
    for page in pages:
        for row in page:  # an empty cell left out (None) costs openpyxl nothing
            sheet.append(row)
    with tempfile.TemporaryFile() as file:
        book.save(file)
        file.seek(0)
        while True:
            data = file.read(chunk)
            if not data:
                return
            yield data
