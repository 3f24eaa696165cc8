"""Opening real files of every format: header detection, rows, and the hostile ones refused
before a parser sees them."""
import datetime
import struct
import zipfile
from pathlib import Path

import pytest

from importer_service.mapping import IDENTITY_TARGETS, suggest
from importer_service.reading import Limits, Refused, column_letter, open_table

# the project's shared folder lies beside the repository (as on CI)
SHARED = Path(__file__).resolve().parents[5] / "shared"

CLIENTS = [["Název", "IČO", "E-mail"],
           ["Žluťoučký kůň s.r.o.", "01569651", "info@kun.cz"],
           ["Pražská firma a.s.", "25596641", "praha@firma.cz"]]


def rows_of(table, start_after=0):
    return list(table.rows(start_after))


def refused(path, **kwargs) -> Refused:
    with pytest.raises(Refused) as caught:
        open_table(path, path.name, **kwargs)
    assert caught.value.cs and caught.value.en
    return caught.value


# -- XLSX -----------------------------------------------------------------------------------

def test_xlsx_header_below_a_title_with_numbers_dates_and_row_numbers(files):
    path = files.xlsx("klienti.xlsx", {"Klienti": [
        ["Seznam klientů 2024"], [],
        ["Název", "IČO", "Založeno", None, "Poznámka", None],
        ["Žluťoučký kůň", 1569651, datetime.date(2024, 2, 1), None, "VIP", None],
        [],
        ["Druhá firma", "25596641", None, None, None, None]]})
    table = open_table(path, "klienti.xlsx")
    assert (table.format, table.sheets, table.sheet) == ("xlsx", ["Klienti"], "Klienti")
    assert (table.encoding, table.delimiter) == (None, None)
    assert table.header_row == 3
    assert table.headers == ["Název", "IČO", "Založeno", "Poznámka"]  # empty column dropped
    assert rows_of(table) == [
        (4, ["Žluťoučký kůň", 1569651, datetime.date(2024, 2, 1), "VIP"]),
        (6, ["Druhá firma", "25596641", None, None])]
    assert rows_of(table, start_after=4) == [(6, ["Druhá firma", "25596641", None, None])]
    assert table.count_rows() == 2


def test_a_column_with_values_but_no_heading_is_named_by_its_letter(files):
    path = files.xlsx("a.xlsx", {"List1": [["Název", None, "IČO"], ["Firma", "poznámka", 1]]})
    assert open_table(path, "a.xlsx").headers == ["Název", "Sloupec B", "IČO"]


def test_letters_are_excel_column_names():
    assert [column_letter(i) for i in (0, 25, 26, 51, 701, 702, 16383)] == \
        ["A", "Z", "AA", "AZ", "ZZ", "AAA", "XFD"]


def test_a_formula_gives_the_value_the_workbook_saved(files):
    base = files.xlsx("base.xlsx", {"List1": [["Název", "Kapacita"], ["Firma", 21]]})
    path = files.patch_zip(base, "formula.xlsx", "xl/worksheets/sheet1.xml", lambda xml: xml.replace(
        "</sheetData>", '<row r="3"><c r="A3" t="str"><f>A2&amp;" 2"</f><v>Firma 2</v></c>'
        '<c r="B3"><f>B2*2</f><v>42</v></c></row></sheetData>'))
    table = open_table(path, "formula.xlsx")
    assert rows_of(table) == [(2, ["Firma", 21]), (3, ["Firma 2", 42])]


def test_sheets_chosen_by_name_or_the_first_with_data(files):
    path = files.xlsx("listy.xlsx", {"Prázdný": [], "Klienti": CLIENTS, "Jiné": [["a", "b"]]})
    table = open_table(path, "listy.xlsx")
    assert table.sheets == ["Prázdný", "Klienti", "Jiné"]
    assert table.sheet == "Klienti"
    assert open_table(path, "listy.xlsx", sheet="Jiné").headers == ["a", "b"]
    error = refused(path, sheet="Nope")
    assert error.code == "sheet_not_found"
    assert "Prázdný, Klienti, Jiné" in error.en and "Klienti" in error.cs


def test_a_hidden_sheet_is_read_only_when_asked_for(files):
    import openpyxl
    path = files.xlsx("hidden.xlsx", {"Číselník": [["Kód", "Popis"], ["A", "a"]],
                                      "Klienti": CLIENTS})
    workbook = openpyxl.load_workbook(path)
    workbook["Číselník"].sheet_state = "hidden"
    workbook.save(path)
    assert open_table(path, "hidden.xlsx").sheet == "Klienti"
    assert open_table(path, "hidden.xlsx", sheet="Číselník").headers == ["Kód", "Popis"]


def test_a_workbook_without_data_is_empty(files):
    assert refused(files.xlsx("empty.xlsx", {"List1": [], "List2": [[None]]})).code == "empty"


def test_known_headings_count_custom_field_labels(files):
    path = files.xlsx("cf.xlsx", {"List1": [["Sklad m²", "Plocha"], ["Alfa", "x"],
                                            ["Název", "Sklad m²"], ["Beta", 120]]})
    plain = open_table(path, "cf.xlsx")
    assert plain.header_row == 3  # Název is recognised, row 1 only has text
    custom = open_table(path, "cf.xlsx", known_headings=[{"key": "plocha", "label": "Plocha"},
                                                         {"key": "sklad_m2", "label": "Sklad m²"}])
    assert custom.header_row == 1  # two recognised beat one; ties would go to the earlier
    assert open_table(path, "cf.xlsx", known_headings=lambda h: h == "Plocha").header_row == 1


def test_without_recognised_headings_the_first_row_of_two_texts_is_the_header(files):
    path = files.xlsx("x.xlsx", {"List1": [["Přehled"], ["Kód", "Kapacita"], ["A1", 3]]})
    table = open_table(path, "x.xlsx")
    assert (table.header_row, table.headers) == (2, ["Kód", "Kapacita"])


def test_no_header_row(files):
    path = files.xlsx("x.xlsx", {"List1": [["jedna"], ["dva"], [3]]})
    assert refused(path).code == "no_header"


def test_too_many_rows(files):
    path = files.xlsx("rows.xlsx", {"List1": CLIENTS + [["F", "01569651", "a@b.cz"]] * 5})
    assert refused(path, limits=Limits(max_rows=6)).code == "too_many_rows"
    assert open_table(path, "rows.xlsx", limits=Limits(max_rows=7)).count_rows() == 7


def test_too_many_columns(files):
    path = files.xlsx("wide.xlsx", {"List1": [["Název"] + [f"c{i}" for i in range(20)]]})
    assert refused(path, limits=Limits(max_columns=10)).code == "too_many_columns"


# -- hostile zips -----------------------------------------------------------------------------

def test_a_declared_giant_dimension_is_refused(files):
    path = files.xlsx_cells("dimension.xlsx", "", dimension="A1:XFD1048576")
    assert refused(path).code == "too_many_cells"


def test_a_far_away_cell_is_refused_before_the_parser_allocates_the_sheet(files):
    # calamine would allocate 1048576 x 16384 cells and abort the process
    path = files.xlsx_cells("far.xlsx", '<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c>'
                                        "</row>")
    error = refused(path)
    assert error.code == "too_many_cells" and "1048576 × 16384" in error.en


def test_a_far_away_cell_without_a_reference_takes_its_rows_number(files):
    path = files.xlsx_cells("far-row.xlsx", '<row r="1048576"><c t="n"><v>1</v></c></row>')
    assert refused(path, limits=Limits(max_cells=1000)).code in ("too_many_cells",
                                                                 "too_many_rows")


def test_a_sheet_outside_xl_worksheets_is_checked_too(files):
    far = files.xlsx_cells("far.xlsx", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    moved = files.path("moved.xlsx")
    with zipfile.ZipFile(far) as old, zipfile.ZipFile(moved, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"worksheets/sheet1.xml", b"elsewhere/data.xml")
            new.writestr(item.filename.replace("worksheets/sheet1.xml", "elsewhere/data.xml"),
                         data)
    assert refused(moved).code == "too_many_cells"


def test_styled_empty_cells_far_away_are_harmless(files):
    path = files.xlsx_cells("styled.xlsx", '<row r="1048576"><c r="XFD1048576" s="1"/></row>')
    assert rows_of(open_table(path, "styled.xlsx")) == [(2, ["Firma", "01569651"])]


def test_a_member_compressed_too_well_is_a_zip_bomb(files):
    path = files.xlsx("bomb.xlsx", {"List1": CLIENTS})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/media/zeros.bin", "w") as member:  # streamed, ~20 KB on disk
            for _ in range(20):
                member.write(bytes(1 << 20))
    assert path.stat().st_size < 200_000
    assert refused(path).code == "zip_bomb"


def test_declared_sizes_over_the_limit_are_a_zip_bomb(files):
    path = files.xlsx("big.xlsx", {"List1": CLIENTS})
    assert refused(path, limits=Limits(max_uncompressed=1000)).code == "zip_bomb"


def test_a_member_that_inflates_beyond_its_declared_size_is_a_zip_bomb(files):
    path = files.xlsx("liar.xlsx", {"List1": CLIENTS})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/a.bin", b"a" * 500_000)
    _declare_size(path, "xl/media/a.bin", 1000)
    assert refused(path).code == "zip_bomb"


def _declare_size(path, member: str, size: int):
    """Rewrites the uncompressed size of `member` in its local and central headers."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        at = data.find(signature)
        while at >= 0:
            length = struct.unpack_from("<H", data, at + name_at - (2 if name_at == 30 else 18)
                                        )[0]
            if data[at + name_at:at + name_at + length] == name:
                struct.pack_into("<I", data, at + size_at, size)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def test_a_truncated_workbook_is_broken(files):
    whole = files.xlsx("whole.xlsx", {"List1": CLIENTS}).read_bytes()
    assert refused(files.bytes("cut.xlsx", whole[:len(whole) // 2])).code == "broken"
    assert refused(files.bytes("junk.xlsx", b"PK\x03\x04" + bytes(range(256)) * 4)).code == \
        "broken"


def test_other_zips_and_xlsb_are_unsupported(files):
    path = files.path("doc.docx")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert refused(path).code == "unsupported"
    path = files.path("binary.xlsb")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.bin", b"\0\1")
    assert "xlsb" in refused(path).en


# -- ODS --------------------------------------------------------------------------------------

TRAILING = '<table:table-cell table:number-columns-repeated="16380"/>'
EMPTY_ROWS = ('<table:table-row table:number-rows-repeated="1048570">'
              '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>')


def test_ods_with_the_usual_trailing_repeated_empty_cells(files):
    date_cell = ('<table:table-cell office:value-type="date" office:date-value="2024-02-01">'
                 "<text:p>1.2.2024</text:p></table:table-cell>")
    rows = (files.ods_row("Klienti 2024", tail=TRAILING) + files.ods_row(tail=TRAILING)
            + files.ods_row("Název", "IČO", "Datum", tail=TRAILING)
            + files.ods_row("Firma", 1569651, tail=date_cell + TRAILING) + EMPTY_ROWS)
    path = files.ods("klienti.ods", {"Klienti": rows, "Prázdný": EMPTY_ROWS})
    table = open_table(path, "klienti.ods")
    assert (table.format, table.sheets, table.sheet) == ("ods", ["Klienti", "Prázdný"], "Klienti")
    assert (table.header_row, table.headers) == (3, ["Název", "IČO", "Datum"])
    assert rows_of(table) == [(4, ["Firma", 1569651, datetime.date(2024, 2, 1)])]


def test_ods_repeating_a_filled_cell_too_often_is_refused(files):
    filled = ('<table:table-cell table:number-columns-repeated="300" office:value-type="string">'
              "<text:p>x</text:p></table:table-cell>")
    rows = files.ods_row("Název") + ('<table:table-row table:number-rows-repeated="100000">'
                               f"{filled}</table:table-row>")
    assert refused(files.ods("repeat.ods", {"List1": rows})).code == "too_many_cells"


def test_an_encrypted_ods_is_refused(files):
    path = files.ods("secret.ods", {"List1": files.ods_row("Název")}, encrypted=True)
    assert refused(path).code == "encrypted"


# -- XLS and OLE2 -----------------------------------------------------------------------------

def test_a_legacy_xls(files):
    path = files.xls("klienti.xls", {
        "Klienti": [["Seznam"], [], ["Název", "IČO", "Založeno", "Aktivní"],
                    ["Žluťoučký kůň", 1569651, datetime.date(2024, 2, 1), True]],
        "Druhý": [["x", "y"]]})
    table = open_table(path, "klienti.xls")
    assert (table.format, table.sheets, table.sheet) == ("xls", ["Klienti", "Druhý"], "Klienti")
    assert (table.header_row, table.headers) == (3, ["Název", "IČO", "Založeno", "Aktivní"])
    assert rows_of(table) == [(4, ["Žluťoučký kůň", 1569651, datetime.date(2024, 2, 1), True])]


def test_encrypted_workbooks_ask_for_a_copy_without_a_password(files):
    ooxml = files.bytes("secret.xlsx", files.cfb({"EncryptionInfo": b"\4\0\4\0\x40\0\0\0",
                                            "EncryptedPackage": b"\0" * 5000}))
    error = refused(ooxml)
    assert error.code == "encrypted" and "password" in error.en and "hesl" in error.cs
    xls = files.xls("secret.xls", {"List1": CLIENTS}, encrypted=True)
    assert refused(xls).code == "encrypted"


def test_other_ole_files_are_unsupported_and_broken_ones_broken(files):
    assert refused(files.bytes("a.doc", files.cfb({"WordDocument": b"x"}))).code == "unsupported"
    header = files.xls("x.xls", {"List1": CLIENTS}).read_bytes()[:600]
    assert refused(files.bytes("cut.xls", header)).code == "broken"


# -- CSV --------------------------------------------------------------------------------------

CZECH = ("Název;IČO;Město;Poznámka\n"
         "Šťastný Žluťoučký kůň s.r.o.;01569651;Třebíč;ťuk šum žár ŠŽŤ\n"
         "Pražská firma;25596641;Ústí nad Labem;\n")


@pytest.mark.parametrize("encoding, reported", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1250", "cp1250"),
    ("iso-8859-2", "iso-8859-2"), ("utf-16", "utf-16")])
def test_csv_encodings(files, encoding, reported):
    table = open_table(files.csv("a.csv", CZECH, encoding), "a.csv")
    assert (table.format, table.sheets, table.sheet) == ("csv", [], None)
    assert (table.encoding, table.delimiter) == (reported, ";")
    assert rows_of(table)[0] == (2, ["Šťastný Žluťoučký kůň s.r.o.", "01569651", "Třebíč",
                                     "ťuk šum žár ŠŽŤ"])


def test_cp1250_and_iso_8859_2_told_apart_by_their_own_letters(files):
    # "š" alone: 0x9A in Windows-1250 (a control character in ISO-8859-2), 0xB9 in ISO
    assert open_table(files.csv("a.csv", "Název;Obec\nš;ž\n", "cp1250"), "a").encoding == \
        "cp1250"
    assert open_table(files.csv("b.csv", "Název;Obec\nš;ž\n", "iso-8859-2"), "b").encoding == \
        "iso-8859-2"
    # letters the two share (á, é, č, ř) decode the same either way
    table = open_table(files.csv("c.csv", "Název;Obec\nčáp;Říčany\n", "cp1250"), "c")
    assert rows_of(table) == [(2, ["čáp", "Říčany"])]


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_csv_delimiters_and_quoted_multi_line_fields(files, delimiter):
    d = delimiter
    text = (f'Název{d}Poznámka{d}Tržby\r\n'
            f'"Firma{d} a.s."{d}"první řádek\r\ndruhý ""řádek"""{d}"1,5"\r\n'
            f'Druhá{d}{d}2\r\n')
    table = open_table(files.csv("a.csv", text), "a.csv")
    assert table.delimiter == delimiter
    assert rows_of(table) == [(2, [f"Firma{d} a.s.", 'první řádek\r\ndruhý "řádek"', "1,5"]),
                              (3, ["Druhá", None, "2"])]


def test_decimal_commas_do_not_fool_the_delimiter(files):
    text = "ZAR_NAZ;OKRES;X;Y\nŠkola;Jihlava;49,5;15,6\nJídelna;Třebíč;49,1;16,0\n"
    assert open_table(files.csv("a.csv", text), "a.csv").delimiter == ";"


def test_csv_title_rows_and_empty_lines(files):
    text = "Seznam klientů 2024;;\n;;\n\nNázev;E-mail;\n\nFirma;a@b.cz;\n;;\nDruhá;c@d.cz;\n"
    table = open_table(files.csv("a.csv", text), "a.csv")
    assert (table.header_row, table.headers) == (4, ["Název", "E-mail"])
    assert rows_of(table) == [(6, ["Firma", "a@b.cz"]), (8, ["Druhá", "c@d.cz"])]


def test_csv_too_many_rows_is_known_at_open(files):
    text = "Název;IČO\n" + "Firma;01569651\n" * 20
    assert refused(files.csv("a.csv", text), limits=Limits(max_rows=19)).code == \
        "too_many_rows"
    assert open_table(files.csv("b.csv", text), "b", limits=Limits(max_rows=20)).count_rows() \
        == 20


def test_an_unclosed_quote_swallowing_the_file_is_broken(files):
    text = 'Název;Poznámka\nFirma;"' + "x" * 200_000 + "\n"
    path = files.csv("a.csv", text)
    with pytest.raises(Refused) as caught:
        rows_of(open_table(path, "a.csv"))
    assert caught.value.code == "broken"


@pytest.mark.parametrize("name, data", [
    ("empty.csv", b""), ("bom.csv", b"\xef\xbb\xbf"), ("blank.csv", b"\r\n \n;;;\n\n")])
def test_empty_files(files, name, data):
    assert refused(files.bytes(name, data)).code == "empty"


@pytest.mark.parametrize("name, data", [
    ("a.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"),
    ("a.png", b"\x89PNG\r\n\x1a\n" + bytes(100)),
    ("a.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256))),
    ("nul.csv", b"N\xe1zev;I\xc8O\nFirma;\x00\x00\x01\n"),
    ("random.bin", bytes((i * 7919) % 256 for i in range(4096)).replace(b"\0", b"\1")),
    ("html.xls", b"<html><body><table><tr><td>N\xe1zev</td></tr></table></body></html>"),
])
def test_binaries_and_markup_are_unsupported(files, name, data):
    assert refused(files.bytes(name, data)).code == "unsupported"


# -- real files -----------------------------------------------------------------------------

SCHOOLS = SHARED / "realdata" / "masopust-powerbi_workshop_skoly-cp1250.csv"


def _shared_file(path):
    """A real third-party file from the project's shared folder beside the repository (not
    committed: it is not ours); a checkout without that folder skips, as the ARES
    recordings' test does."""
    if not path.is_file():
        pytest.skip("shared/ is not beside this checkout")
    return path


def test_the_real_schools_file_opens_and_maps_to_no_client_field():
    table = open_table(_shared_file(SCHOOLS), SCHOOLS.name)
    assert (table.format, table.encoding, table.delimiter) == ("csv", "cp1250", ";")
    assert (table.header_row, table.headers) == (1, ["ZAR_NAZ", "OKRES", "KAPACITA", "X", "Y"])
    assert table.count_rows() == 2392
    first = next(table.rows())
    assert first[0] == 2 and first[1][1] == "Třebíč"  # Windows-1250 read right
    assert not set(suggest(table.headers).values()) & set(IDENTITY_TARGETS)
    assert suggest(table.headers) == {}
