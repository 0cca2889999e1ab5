"""Web UI sessions on both engines: the key checked by the AI-Horde, kept under the hash of the cookie's
token, found until it expires, gone after sign-out; nothing on a REPLICA."""

from __future__ import annotations

import pytest

from modelref.errors import Unauthorized
from modelref.services.sessions import LIFETIME, Sessions, seal, token_hash, unseal
from modelref.storage.store import Store
from tests.factories import horde_auth
from tests.support import Clock


def test_a_session_is_found_by_its_token_until_it_expires_or_is_closed(store: Store) -> None:
    clock = Clock(1_000.0)
    with horde_auth() as auth:
        sessions = Sessions(store, auth, clock=clock)
        token = sessions.open("approver-key")
        found = sessions.find(token)
        assert found is not None
        assert found.token_hash == token_hash(token) != token
        assert (found.username, found.roles, found.is_approver) == ("App#2002", ("approver", "requestor"), True)
        assert found.apikey == "approver-key"
        assert "approver-key" not in repr(found)
        assert sessions.find(token + "x") is None
        assert sessions.find("") is None
        assert sessions.find("y" * 10_000) is None  # never looked up
        other = sessions.open("requestor-key")
        sessions.close(other)
        assert sessions.find(other) is None
        assert sessions.find(token) == found  # closing one leaves the other
        clock.now += LIFETIME + 1
        assert sessions.find(token) is None
        with pytest.raises(Unauthorized):
            sessions.open("not-a-key")
        sessions.open("requestor-key")  # a sign-in forgets the expired sessions
    with store.read() as tx:
        assert tx.sessions.find(found.token_hash, 0) is None


def test_a_replica_has_no_sessions() -> None:
    with horde_auth() as auth:
        sessions = Sessions(None, auth)
        assert sessions.find("anything") is None
        sessions.close("anything")


def test_a_sealed_key_opens_only_with_its_token() -> None:
    sealed = seal("token-one", "secret-key")
    assert "secret-key" not in sealed
    assert seal("token-one", "secret-key") != sealed  # a fresh nonce each time
    assert unseal("token-one", sealed) == "secret-key"
    assert unseal("token-two", sealed) is None
    assert unseal("token-one", "not base64 at all!") is None
    assert unseal("token-one", sealed[:10]) is None
