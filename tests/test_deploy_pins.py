"""The web server faces the internet: the installed aiohttp carries the fixes of every advisory
published after 3.9.5 that docs/deploy.md lists (all fixed by 3.14.4), and Rasa still imports
beside it."""

from __future__ import annotations

import aiohttp


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


def test_installed_aiohttp_has_the_advisory_fixes_of_docs_deploy():
    assert version_tuple(aiohttp.__version__) >= (3, 14, 4), aiohttp.__version__


def test_rasa_server_modules_import_with_that_aiohttp():
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    assert Agent and EndpointConfig
