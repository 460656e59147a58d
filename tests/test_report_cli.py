"""`nghedan report` run as a real process (the installed console script) on a migrated SQLite
with the seeded history of tests/test_report.py: each format is written where --out says and
read back; wrong options get one polite Vietnamese line and exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.test_report import NAME, PHONE, History, seed_history

NGHEDAN = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "nghedan"
MARCH = ["--from", "2026-03-01", "--to", "2026-03-31"]


@pytest.fixture
def history(app_env) -> History:
    return seed_history(app_env)


def nghedan(url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(data_dir)}
    return subprocess.run([str(NGHEDAN), "report", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_each_format_is_written_and_the_message_says_where(app_env, history, tmp_path):
    for fmt in ("xlsx", "pdf", "md"):
        out = tmp_path / "out" / f"bao-cao-thang-3.{fmt}"
        done = nghedan(app_env, tmp_path, *MARCH, "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert str(out.resolve()) in done.stdout and "01/03/2026 - 31/03/2026" in done.stdout
        assert out.stat().st_size > 0
    book = load_workbook(tmp_path / "out" / "bao-cao-thang-3.xlsx")
    values = {r[0]: r[1] for r in book["Tổng hợp"].iter_rows(values_only=True) if r[0]}
    assert values["Tiếp nhận"] == 6 and values["Còn tồn cuối kỳ"] == 3
    pdf_text = "\n".join(p.extract_text() for p in
                         PdfReader(tmp_path / "out" / "bao-cao-thang-3.pdf").pages)
    assert "đã tiếp nhận 6 phản ánh, kiến nghị" in pdf_text and "đúng hạn" in pdf_text
    markdown = (tmp_path / "out" / "bao-cao-thang-3.md").read_text(encoding="utf-8")
    assert "| Tiếp nhận | 6 | 1 | +5 |" in markdown
    for content in (pdf_text, markdown):
        assert history.confidential not in content and NAME not in content \
            and PHONE not in content


def test_the_yearly_period_of_the_issue_and_a_unit(app_env, history, tmp_path):
    out = tmp_path / "nam.xlsx"
    done = nghedan(app_env, tmp_path, "--from", "2025-10-16", "--to", "2026-10-15",
                   "--unit", "xa-an-binh-kinh-te", "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Phòng Kinh tế" in done.stdout
    values = {r[0]: r[1] for r in load_workbook(out)["Tổng hợp"].iter_rows(values_only=True)
              if r[0]}
    assert values["Kỳ báo cáo"] == "16/10/2025 - 15/10/2026"
    assert values["Tiếp nhận"] == 4  # P (February) and A, B, F (March) went to Phòng Kinh tế


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-02-30", "--to", "2026-03-31", "--format", "md"],
     "Ngày --from không hợp lệ: \"2026-02-30\""),
    (["--from", "2026-03-01", "--to", "hôm nay", "--format", "md"],
     "Ngày --to không hợp lệ"),
    (["--from", "2026-03-31", "--to", "2026-03-01", "--format", "md"],
     "Ngày bắt đầu (31/03/2026) sau ngày kết thúc (01/03/2026)"),
    ([*MARCH, "--format", "docx"], "Không hỗ trợ định dạng \"docx\""),
    ([*MARCH, "--format", "md", "--unit", "xa-khong-co"], "Không có đơn vị mã \"xa-khong-co\""),
    (["--from", "2026-03-01", "--format", "md"], "Thiếu tùy chọn --to"),
])
def test_a_wrong_option_gets_one_polite_line_and_exit_code_2(app_env, tmp_path, args, message):
    out = tmp_path / "r.out"
    done = nghedan(app_env, tmp_path, *args, "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.strip().startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not out.exists()
