import pytest

from stepwise.models.errors import DomainError
from stepwise.models.validation import (
    normalize_email,
    require_name,
    require_strong_password,
    require_url,
    require_username,
)


def field_of(call, *args) -> str:
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value.field


def test_names_are_trimmed_and_bounded():
    assert require_name("  Acme  ", "input.name") == "Acme"
    assert field_of(require_name, "   ", "input.name") == "input.name"
    assert field_of(require_name, "x" * 201, "input.name") == "input.name"
    assert field_of(require_name, "bad\x00name", "input.name") == "input.name"


def test_usernames():
    assert require_username("ada.l_1") == "ada.l_1"
    for bad in ("ab", "-ada", "ada lovelace", "a" * 41, "ada@x"):
        assert field_of(require_username, bad) == "input.username"


def test_emails_are_normalized_or_refused():
    assert normalize_email("Ada@Example.COM") == "ada@example.com"
    for bad in ("ada", "ada@", "@example.com", "a@b@c.com", "x" * 250 + "@example.com"):
        assert field_of(normalize_email, bad) == "input.email"


def test_weak_passwords_are_refused():
    require_strong_password("correct horse battery", "ada")
    for weak in ("short", "password123", "aaaaaaaaaaaa", "ada-is-my-name!", "x" * 300):
        assert field_of(require_strong_password, weak, "ada") == "input.password"


def test_urls():
    assert require_url(None, "f") is None
    assert require_url("https://x.test/a.jpg", "f") == "https://x.test/a.jpg"
    assert field_of(require_url, "javascript:alert(1)", "f") == "f"
