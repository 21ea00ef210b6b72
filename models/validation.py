"""Input rules shared by actions. Pure: raise DomainError(INVALID_INPUT) with a field path."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from stepwise.models.errors import invalid_input

NAME_MAX = 200
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,39}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 256
FILENAME_MAX = 500
URL_MAX = 2000
DIMENSION_MAX = 100_000
# Characters below U+0020; one regex search instead of a generator over the characters (a call of
# addAssets checks 1,000 filenames).
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")

# The most common leaked passwords that pass the length rule; refused outright.
COMMON_PASSWORDS = frozenset(
    """
    1234567890 0123456789 1234512345 1q2w3e4r5t qwertyuiop 1qaz2wsx3edc password1 password12
    password123 password1234 passw0rd12 iloveyou12 qwerty1234 qwerty12345 abcdefghij
    abc1234567 welcome123 letmein123 administrator adminadmin 0987654321 1111111111
    aaaaaaaaaa zaq12wsxcde 123qweasdzxc trustno1234 football12 baseball12 sunshine12
    princess12 dragon1234 monkey1234 superman12 starwars12 whatever12 changeme12 changeme123
    """.split()
)


def require_name(value: str, field: str, max_length: int = NAME_MAX) -> str:
    """A trimmed, non-empty, bounded display name."""
    name = value.strip()
    if not name:
        raise invalid_input(field, "Must not be empty.")
    if len(name) > max_length:
        raise invalid_input(field, f"Must be at most {max_length} characters.")
    if CONTROL_CHARACTER.search(name):
        raise invalid_input(field, "Must not contain control characters.")
    return name


def require_username(value: str, field: str = "input.username") -> str:
    if not USERNAME_PATTERN.match(value):
        raise invalid_input(
            field, "3 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return value


def normalize_email(value: str, field: str = "input.email") -> str:
    """The canonical form of an e-mail address, or INVALID_INPUT."""
    if len(value) > 254:
        raise invalid_input(field, "Must be at most 254 characters.")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise invalid_input(field, f"Not a valid e-mail address: {error}") from None
    return checked.normalized.lower()


def looks_like_email(value: str) -> bool:
    return "@" in value


def require_strong_password(password: str, username: str, field: str = "input.password") -> None:
    if len(password) < PASSWORD_MIN:
        raise invalid_input(field, f"Must be at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        raise invalid_input(field, f"Must be at most {PASSWORD_MAX} characters.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4 or username.lower() in lowered:
        raise invalid_input(field, "Too easy to guess: choose a less common password.")


def require_filename(value: str, field: str) -> str:
    return require_name(value, field, FILENAME_MAX)


def require_dimension(value: int, field: str) -> int:
    if value <= 0:
        raise invalid_input(field, "Must be greater than zero.")
    if value > DIMENSION_MAX:
        raise invalid_input(field, f"Must be at most {DIMENSION_MAX}.")
    return value


def require_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if len(value) > URL_MAX:
        raise invalid_input(field, f"Must be at most {URL_MAX} characters.")
    if not value.startswith(("http://", "https://", "s3://", "gs://")):
        raise invalid_input(field, "Must be an http(s), s3 or gs URL.")
    return value
