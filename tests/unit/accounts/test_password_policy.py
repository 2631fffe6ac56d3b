"""Console passwords follow NIST SP 800-63B-4 for a single-factor password (reliability C.16): at least
15 characters, 64 and more accepted, no composition rules, a blocklist of common and guessable ones.
Checked through settings.AUTH_PASSWORD_VALIDATORS, as the registration forms check them."""

from __future__ import annotations

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from kaitong.accounts import domain
from kaitong.accounts.models import ConsoleAccount

USER = ConsoleAccount(username="initech", email="boss@initech.example")


def refusals(password: str) -> list[str]:
    try:
        password_validation.validate_password(password, user=USER)
    except ValidationError as exc:
        return [str(error.code) for error in exc.error_list]
    return []


def test_fourteen_characters_are_refused_and_fifteen_accepted():
    assert refusals("Tq7-vexing-mop") == ["password_too_short"]  # 14
    assert refusals("Tq7-vexing-mops") == []  # 15
    assert domain.PASSWORD_MIN_LENGTH == 15


def test_no_composition_rule_all_digits_all_lowercase_or_spaces_are_fine():
    assert refusals("830571946203851") == []  # 15 digits, not a common or patterned number
    assert refusals("purple elephants dance quietly") == []
    assert refusals("下雨天的时候我们一起去西湖看荷花") == []  # 16 characters: each counts as one


@pytest.mark.parametrize(
    "password",
    [
        "manchesterunited",  # in Django's list of common passwords
        "1q2w3e4r5t6y7u8i",  # ditto, and a keyboard walk
        "123456789012345",  # a sequence
        "111111111111111",  # a repeat
        "passwordpassword",  # a common password twice
        "qwertyuiopasdfgh",  # a keyboard row
        "initech-initech-initech",  # the username over again
    ],
)
def test_common_and_guessable_passwords_are_refused(password):
    refused = refusals(password)
    assert refused and set(refused) <= {"password_too_common", "password_too_guessable", "password_too_similar"}


def test_long_passwords_are_accepted_up_to_the_forms_limit():
    sixty_four = "correct horse battery staple, then a walk along the Qiantang 1987"[:64]
    assert len(sixty_four) == 64 and refusals(sixty_four) == []
    assert refusals("Tq7-vexing-mops " * 8) == []  # 128 characters: only the first 72 are estimated
    assert domain.PASSWORD_MAX_LENGTH >= 64
