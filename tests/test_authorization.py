"""Every service call checks its caller: citizens see only their own tickets, officers their
unit's, leaders their subtree; a tố cáo and its denouncer's identity stay with its handlers,
and every look at personal data is logged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core import desk, service
from bot.core.authz import Caller, NotAllowed
from bot.core.tickets import update_fields
from bot.store.db import session_scope
from bot.store.models import Citizen, DataAccessLog, Officer, Ticket
from tests.conftest import BACKENDS
from tests.helpers import context

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def officer(session, username: str) -> Caller:
    return Caller.officer(session.scalar(select(Officer).where(Officer.username == username)).id)


def report(ctx, sender: str, kind: str = "phan_anh", key: str = "k1") -> str:
    return service.submit_report(sender, "Có người lấn chiếm đất công ở thôn 2", "thôn 2", key,
                                 category="dat_dai", kind=kind, ctx=ctx).code


def test_citizens_reach_only_their_own_tickets(app_env):
    ctx = context()
    mine = report(ctx, "telegram:1")
    assert [t.code for t in service.my_tickets("telegram:1")] == [mine]
    assert service.my_tickets("telegram:2") == []
    assert service.my_tickets("telegram:2", code=mine) == []
    with pytest.raises(NotAllowed):
        service.withdraw("telegram:2", mine, ctx=ctx)
    with pytest.raises(NotAllowed):
        service.add_information("telegram:2", mine, "thêm", "k9", ctx=ctx)


def test_officers_act_only_within_their_units(app_env):
    ctx = context()
    code = report(ctx, "telegram:1")
    with session_scope(app_env) as session:
        for outsider in ("congan", "vanhoa", "tiepnhan"):
            with pytest.raises(NotAllowed):
                desk.accept(session, officer(session, outsider), code, ctx, kind="phan_anh",
                            category="dat_dai")
        with pytest.raises(NotAllowed):  # a citizen is not an officer
            desk.queue(session, Caller.citizen(1, "web"))
        leader = officer(session, "chutich")
        assert code in [t.code for t in desk.queue(session, leader)]
        assert code not in [t.code for t in desk.queue(session, officer(session, "congan"))]
        desk.accept(session, officer(session, "kinhte"), code, ctx, kind="phan_anh",
                    category="dat_dai")
        with pytest.raises(NotAllowed):  # assign to someone outside the unit
            desk.assign(session, officer(session, "kinhte"), code, ctx,
                        officer_id=officer(session, "congan").id)


def test_denunciation_identity_is_secret_and_access_is_logged(app_env):
    ctx = context()
    code = report(ctx, "telegram:7", kind="to_cao")
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.confidential
        ticket_id = ticket.id
        session.get(Citizen, ticket.citizen_id).display_name = "Nguyễn Văn Tố"
    with session_scope(app_env) as session:
        for username in ("kinhte", "truongkt", "tiepnhan"):
            with pytest.raises(NotAllowed):
                desk.look_up(session, officer(session, username), code, ctx)
        view = desk.look_up(session, officer(session, "chutich"), code, ctx, "giải quyết tố cáo")
        assert view.citizen_name == "Nguyễn Văn Tố" and not view.identity_hidden
        logged = list(session.scalars(select(DataAccessLog)))
        assert [(e.purpose, e.ticket_id) for e in logged] == [("giải quyết tố cáo", ticket_id)]


def test_identity_hidden_from_a_handler_without_the_role(app_env):
    ctx = context()
    code = report(ctx, "telegram:7", kind="to_cao")
    with session_scope(app_env) as session:
        leader = officer(session, "chutich")
        # chutich assigns it to a plain officer of the commune unit, who may handle it
        extra = Officer(username="thuky", full_name="Thư Ký", unit_id=session.get(
            Officer, leader.id).unit_id)
        session.add(extra)
        session.flush()
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        update_fields(session, ticket, leader.actor, ctx, officer_id=extra.id)
    with session_scope(app_env) as session:
        view = desk.look_up(session, officer(session, "thuky"), code, ctx)
        assert view.identity_hidden and view.citizen_name is None
        assert list(session.scalars(select(DataAccessLog))) == []
