"""Codes shared by NLU, tickets, routing and reports (shared/taxonomy.md). Labels are Vietnamese."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    DAT_DAI = "dat_dai"
    MOI_TRUONG = "moi_truong"
    GIAI_PHONG_MAT_BANG = "giai_phong_mat_bang"
    XAY_DUNG_DO_THI = "xay_dung_do_thi"
    HA_TANG = "ha_tang"
    AN_NINH_TRAT_TU = "an_ninh_trat_tu"
    THU_TUC_HANH_CHINH = "thu_tuc_hanh_chinh"
    CHINH_SACH_XA_HOI = "chinh_sach_xa_hoi"
    CAN_BO = "can_bo"
    Y_TE_GIAO_DUC = "y_te_giao_duc"
    KHAC = "khac"


CATEGORY_LABELS: dict[Category, str] = {
    Category.DAT_DAI: "Đất đai",
    Category.MOI_TRUONG: "Môi trường",
    Category.GIAI_PHONG_MAT_BANG: "Giải phóng mặt bằng, bồi thường, tái định cư",
    Category.XAY_DUNG_DO_THI: "Xây dựng, trật tự đô thị",
    Category.HA_TANG: "Hạ tầng, giao thông, điện nước",
    Category.AN_NINH_TRAT_TU: "An ninh trật tự",
    Category.THU_TUC_HANH_CHINH: "Thủ tục hành chính, dịch vụ công",
    Category.CHINH_SACH_XA_HOI: "Chính sách xã hội, lao động",
    Category.CAN_BO: "Cán bộ, công chức",
    Category.Y_TE_GIAO_DUC: "Y tế, giáo dục, an toàn thực phẩm",
    Category.KHAC: "Khác",
}


class Kind(StrEnum):
    PHAN_ANH = "phan_anh"
    KIEN_NGHI = "kien_nghi"
    KHIEU_NAI = "khieu_nai"
    TO_CAO = "to_cao"


KIND_LABELS: dict[Kind, str] = {
    Kind.PHAN_ANH: "Phản ánh",
    Kind.KIEN_NGHI: "Kiến nghị",
    Kind.KHIEU_NAI: "Khiếu nại",
    Kind.TO_CAO: "Tố cáo",
}


class Status(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    NEED_INFO = "need_info"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
    WITHDRAWN = "withdrawn"


STATUS_LABELS: dict[Status, str] = {
    Status.RECEIVED: "Đã tiếp nhận",
    Status.ACCEPTED: "Đã thụ lý",
    Status.ASSIGNED: "Đã giao xử lý",
    Status.IN_PROGRESS: "Đang xử lý",
    Status.NEED_INFO: "Cần bổ sung thông tin",
    Status.RESOLVED: "Đã trả lời / giải quyết",
    Status.CLOSED: "Đã đóng",
    Status.REJECTED: "Không thụ lý",
    Status.TRANSFERRED: "Đã chuyển cơ quan khác",
    Status.WITHDRAWN: "Đã rút",
}

FINAL_STATUSES = frozenset({Status.CLOSED, Status.REJECTED, Status.TRANSFERRED, Status.WITHDRAWN})


class Role(StrEnum):
    OFFICER = "officer"
    UNIT_HEAD = "unit_head"
    LEADER = "leader"
    ADMIN = "admin"
    DENUNCIATION_HANDLER = "denunciation_handler"


class UnitLevel(StrEnum):
    PROVINCE = "province"
    COMMUNE = "commune"
    DEPARTMENT = "department"


class AreaKind(StrEnum):
    THON = "thon"
    XOM = "xom"
    AP = "ap"
    BAN = "ban"
    TO_DAN_PHO = "to_dan_pho"
    KHU_PHO = "khu_pho"


class Channel(StrEnum):
    TELEGRAM = "telegram"
    ZALO = "zalo"
    WEB = "web"
    CLI = "cli"
    DESK = "desk"
    SYSTEM = "system"


class ActorType(StrEnum):
    CITIZEN = "citizen"
    OFFICER = "officer"
    SYSTEM = "system"
