"""A service's page texts: one YAML catalogue of message keys, each in every language its pages offer.

Read and checked once at start-up, so a missing translation fails the service, not one person's page.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import yaml


def load_messages(package: str, resource: str, languages: Sequence[str]) -> dict[str, dict[str, str]]:
    """``{key: {language: text}}`` from ``resource`` in ``package``; ValueError naming every problem."""
    raw = resources.files(package).joinpath(resource).read_text("utf-8")
    data = yaml.safe_load(raw)
    if not isinstance(data, dict):
        raise ValueError(f"{resource} must be a mapping of message keys")
    messages: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for key, texts in data.items():
        if not isinstance(texts, dict) or set(texts) != set(languages):
            problems.append(f"{key}: needs exactly the languages {', '.join(languages)}")
        elif not all(isinstance(text, str) and text.strip() for text in texts.values()):
            problems.append(f"{key}: every text must be a non-blank string")
        else:
            messages[str(key)] = {str(language): str(text) for language, text in texts.items()}
    if problems:
        raise ValueError(f"{resource}: " + "; ".join(problems))
    return messages
