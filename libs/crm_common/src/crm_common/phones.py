"""Phone numbers as stored everywhere: E.164, numbers without a country code taken as Czech."""
import phonenumbers

DEFAULT_REGION = "CZ"


def e164(value) -> str:
    """`+420603111222` from `603 111 222`, `+420 603 111 222` or `00420603111222`; an
    extension kept as RFC 3966 writes it. Not a valid number: ValueError saying why."""
    text = str(value or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"Not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number "
                         "(numbers without +country code are taken as Czech).")
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{formatted};ext={number.extension}" if number.extension else formatted
