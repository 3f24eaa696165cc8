"""Text as people search it: diacritics and case gone ("Žluťoučký kůň" -> "zlutoucky kun")."""
import re
import unicodedata

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str | None) -> str:
    """Lower case ASCII words separated by single spaces: 'Žluťoučký kůň, s.r.o.' ->
    'zlutoucky kun s r o'."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_NOT_WORD.split(plain)).strip()
