"""Small helpers that keep the Studio's messages in plain, correct English."""

from __future__ import annotations


def plural(count: float, noun: str, many: str | None = None) -> str:
    """``plural(1, "realm")`` -> "1 realm", ``plural(1200, "realm")`` -> "1,200 realms";
    ``many`` for nouns whose plural is not noun + "s"."""
    word = noun if count == 1 else (many or noun + "s")
    return f"{count:,.0f} {word}" if isinstance(count, float) else f"{count:,} {word}"


def article(noun: str) -> str:
    """``article("Author")`` -> "an Author", ``article("Book")`` -> "a Book" (by the
    first letter: good enough for class names)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
