"""Text as people search it: diacritics and case gone ("Žluťoučký kůň" -> "zlutoucky kun")."""
import re
import unicodedata

_NOT_WORD = re.compile(r"[^0-9a-z]+")


class _WithoutCombining(dict):
    """A str.translate table that drops combining characters (the accents NFKD splits
    off), each code point looked up once: a character at a time in Python was most of
    the cost of folding every client of an import."""

    def __missing__(self, code: int):
        self[code] = None if unicodedata.combining(chr(code)) else code
        return self[code]


_DROP_COMBINING = _WithoutCombining()


def fold(text: str | None) -> str:
    """Lower case ASCII words separated by single spaces: 'Žluťoučký kůň, s.r.o.' ->
    'zlutoucky kun s r o'."""
    if not text:
        return ""
    text = str(text)
    if not text.isascii():  # ASCII has nothing to decompose
        text = unicodedata.normalize("NFKD", text).translate(_DROP_COMBINING)
    return " ".join(_NOT_WORD.split(text.casefold())).strip()


MAX_FILE_NAME = 255  # characters: what file systems and the attachments table take
_PATH_SEPARATORS = re.compile(r"[\\/]")
_DROPPED = {"Cf", "Cs"}  # format characters (a right-to-left override disguises
# "fdp.exe" as "exe.pdf"), lone surrogates (not UTF-8 at all)


def safe_file_name(name: str) -> str:
    """A file name as a person sent it, fit to store and to put in a header: diacritics
    kept ("Smlouva – Žluťoučký kůň.pdf"), composed (macOS sends names decomposed), the
    last path component only (some browsers send "C:\\Users\\...\\a.pdf"), control
    characters as spaces (a line break would split a header), white space runs as one
    space. "" when nothing is left (or only "." / "..")."""
    name = _PATH_SEPARATORS.split(unicodedata.normalize("NFC", name))[-1]
    name = "".join(" " if unicodedata.category(char) == "Cc" else char for char in name
                   if unicodedata.category(char) not in _DROPPED)
    name = " ".join(name.split())
    return "" if name in (".", "..") else name
