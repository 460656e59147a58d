"""What a Zalo OA webhook event means for the inbox: the citizen, the platform id (msg_id), the
text and the payload keys of bot/dialogue/turns.py. User ids are kept as strings."""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from bot.channels.zalo_oa_send import BUTTON_PREFIX, CHANNEL
from bot.core.attachments import media_type_for
from bot.core.messaging import Inbound

# kind of attachment -> (our media type, content type when the download says nothing useful)
MEDIA_KINDS = {"image": ("photo", "image/jpeg"), "audio": ("voice", "audio/aac"),
               "video": ("video", "video/mp4")}
UNSUPPORTED = {"user_send_sticker": "sticker", "user_send_gif": "animation",
               "user_send_business_card": "contact", "user_send_link": "link"}
BUTTON = re.compile(re.escape(BUTTON_PREFIX) + r"(\d+:\d+)")


def inbound_from_event(event: dict[str, Any]) -> tuple[Inbound, str] | None:
    """(the row, its kind: "user" | "staff" | "unfollow") or None for events we do not keep
    (seen, received, clicks...). Raises KeyError/TypeError/ValueError when malformed."""
    name = event["event_name"]
    if name in ("follow", "unfollow"):
        user = _id(event["follower"]["id"])
        inbound = Inbound(CHANNEL, f"{name}:{user}:{event['timestamp']}", user,
                          "/start" if name == "follow" else None,
                          {"event": name, "oa_id": _id(event.get("oa_id") or "")})
        return inbound, "user" if name == "follow" else "unfollow"
    if name.startswith("oa_send_"):
        message = event["message"]
        user, msg_id = _id(event["recipient"]["id"]), _id(message["msg_id"])
        return Inbound(CHANNEL, f"oa:{msg_id}", user, message.get("text"),
                       {"event": name, "staff": True, "msg_id": msg_id,
                        "oa_id": _id(event["sender"]["id"])}), "staff"
    if not name.startswith("user_send_"):
        return None
    message = event["message"]
    user, msg_id = _id(event["sender"]["id"]), _id(message["msg_id"])
    text, payload = _content(name, message)
    payload["oa_id"] = _id(event["recipient"]["id"])
    return Inbound(CHANNEL, msg_id, user, text, payload), "user"


def _id(value: Any) -> str:
    """An id as Zalo wrote it: a string (a number is turned into its exact digits)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError("id must be a string")
    return str(value)


def _content(name: str, message: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    text = message.get("text") if isinstance(message.get("text"), str) else None
    if name == "user_send_text":
        if text and (pressed := BUTTON.fullmatch(text.strip())):
            return None, {"button": pressed[1]}
        return text, {}
    attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
    if name in UNSUPPORTED:
        return None, {"unsupported": UNSUPPORTED[name]}
    if name == "user_send_location":
        return text, _pin(message, attachments)
    if name == "user_send_file":
        return text, _file(attachments)
    items = [_media(a) for a in attachments if a.get("type") in MEDIA_KINDS]
    items = [item for item in items if item]
    return text, ({"media": items} if items else {"unsupported": name.removeprefix("user_send_")})


def _pin(message: dict[str, Any], attachments: list[dict[str, Any]]) -> dict[str, Any]:
    where = next(((a.get("payload") or {}).get("coordinates") for a in attachments
                  if a.get("type") == "location"), None) or message.get("location") or {}
    try:
        latitude, longitude = float(where["latitude"]), float(where["longitude"])
    except (KeyError, TypeError, ValueError):
        return {"unsupported": "location"}
    return {"location_pin": {"latitude": latitude, "longitude": longitude}}


def _media(attachment: dict[str, Any]) -> dict[str, Any] | None:
    payload = attachment.get("payload") or {}
    url = payload.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    media_type, content_type = MEDIA_KINDS[attachment["type"]]
    return {"type": media_type, "url": url, "content_type": content_type,
            "file_size": _size(payload.get("size"))}


def _file(attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """A file is kept when it is a photo, video or voice note by its name; else unsupported."""
    payload = next((a.get("payload") or {} for a in attachments if a.get("type") == "file"), {})
    url, name = payload.get("url"), str(payload.get("name") or "")
    content_type = (mimetypes.guess_type(name)[0] or "").lower()
    media_type = media_type_for(content_type)
    if media_type is None or not isinstance(url, str) or not url.startswith(("http://",
                                                                             "https://")):
        return {"unsupported": "document"}
    return {"media": [{"type": media_type, "url": url, "content_type": content_type,
                       "file_size": _size(payload.get("size"))}]}


def _size(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
