"""Who may do what with a ticket. Every service call names its caller and passes through here.

- a citizen: only their own tickets;
- an officer: tickets of their unit or assigned to them; a unit head: their unit's;
- a leader or admin: tickets of their unit and every unit below it;
- a tố cáo (confidential) ticket: only denunciation handlers and the officer assigned to it,
  and only denunciation handlers see the denouncer's identity (Luật Tố cáo 2018, art. 9, 56)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.core.taxonomy import ActorType, Role
from bot.core.tickets import Actor
from bot.store.models import Officer, OrgUnit, Ticket


class NotAllowed(PermissionError):
    """The caller may not do this; the message is safe to show."""


@dataclass(frozen=True)
class Caller:
    type: ActorType
    id: int | None  # citizen id or officer id
    channel: str

    @property
    def actor(self) -> Actor:
        return Actor(self.type, self.id, self.channel)

    @classmethod
    def citizen(cls, citizen_id: int, channel: str) -> Caller:
        return cls(ActorType.CITIZEN, citizen_id, channel)

    @classmethod
    def officer(cls, officer_id: int, channel: str = "desk") -> Caller:
        return cls(ActorType.OFFICER, officer_id, channel)

    @classmethod
    def system(cls) -> Caller:
        return cls(ActorType.SYSTEM, None, "system")


def roles_of(officer: Officer) -> set[Role]:
    return {Role(r.role) for r in officer.roles}


def unit_and_below(session: Session, unit_id: int) -> set[int]:
    found, frontier = {unit_id}, [unit_id]
    while frontier:
        unit = session.get(OrgUnit, frontier.pop())
        for child in unit.children if unit else []:
            if child.id not in found:
                found.add(child.id)
                frontier.append(child.id)
    return found


def active_officer(session: Session, caller: Caller) -> Officer:
    if caller.type != ActorType.OFFICER or caller.id is None:
        raise NotAllowed("Chức năng này dành cho cán bộ.")
    officer = session.get(Officer, caller.id)
    if officer is None or not officer.active:
        raise NotAllowed("Tài khoản cán bộ không còn hiệu lực.")
    return officer


def officer_can_handle(session: Session, officer: Officer, ticket: Ticket) -> bool:
    roles = roles_of(officer)
    if ticket.confidential:
        return Role.DENUNCIATION_HANDLER in roles or ticket.officer_id == officer.id
    if ticket.officer_id == officer.id or ticket.unit_id == officer.unit_id:
        return True
    if roles & {Role.LEADER, Role.ADMIN}:
        return ticket.unit_id in unit_and_below(session, officer.unit_id)
    return False


def require_ticket_access(session: Session, caller: Caller, ticket: Ticket) -> Officer | None:
    """Raise NotAllowed unless the caller may act on this ticket; returns the officer, if any."""
    if caller.type == ActorType.SYSTEM:
        return None
    if caller.type == ActorType.CITIZEN:
        if caller.id is None or ticket.citizen_id != caller.id:
            raise NotAllowed("Dạ, không tìm thấy đơn này trong các đơn của Ông/Bà.")
        return None
    officer = active_officer(session, caller)
    if not officer_can_handle(session, officer, ticket):
        raise NotAllowed("Đơn này không thuộc phạm vi xử lý của anh/chị.")
    return officer


def require_role(session: Session, caller: Caller, *roles: Role) -> Officer:
    officer = active_officer(session, caller)
    if not roles_of(officer) & set(roles):
        raise NotAllowed("Anh/chị không có quyền thực hiện thao tác này.")
    return officer


def may_see_identity(session: Session, caller: Caller, ticket: Ticket) -> bool:
    """Personal data of the citizen: the citizen, the handlers of a normal ticket, and for a
    tố cáo only denunciation handlers."""
    if caller.type == ActorType.CITIZEN:
        return caller.id == ticket.citizen_id
    if caller.type != ActorType.OFFICER:
        return False
    officer = active_officer(session, caller)
    if ticket.confidential:
        return Role.DENUNCIATION_HANDLER in roles_of(officer)
    return officer_can_handle(session, officer, ticket)
