"""One translation table: English and Simplified Chinese complete, switchable, remembered."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .ui import create, expect, log_rows, wait_ready

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "static" / "i18n"


def message_ids(language_file: Path) -> set[str]:
    return set(re.findall(r'^\s*"([\w.-]+)":', language_file.read_text(encoding="utf-8"), re.M))


def used_ids() -> set[str]:
    """Literal ids in the template (data-i18n*) and the scripts (t("..."), i18n: "...")."""
    found = set(re.findall(r'data-i18n(?:-[\w-]+)?="([\w.-]+)"', (ROOT / "templates" / "index.html").read_text()))
    for script in (ROOT / "static" / "js").rglob("*.js"):
        text = script.read_text(encoding="utf-8")
        found |= set(re.findall(r'\bt(?:Or)?\(\s*"([\w.-]+)"', text))
        found |= set(re.findall(r'(?:i18n|"data-i18n-[\w-]+"):\s*"([\w.-]+)"', text))
    return found


def test_tables_are_complete() -> None:
    english = message_ids(I18N / "en.js")
    chinese = message_ids(I18N / "zh.js")
    assert english - chinese == set(), "missing in zh.js"
    assert chinese - english == set(), "in zh.js but not en.js (a typo?)"
    assert used_ids() - english == set(), "used by the page but not in en.js"


def test_switch_to_chinese_and_it_is_remembered(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="echo")
    page.get_by_test_id("lang-select").select_option("zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("tab-create")).to_have_text("新建套接字")
    expect(page.get_by_test_id("tab-download")).to_have_text("下载文件")
    expect(page.locator("#log-title")).to_have_text("事件日志")
    expect(page.get_by_test_id("socket-state")).to_contain_text("已连接")
    expect(page.get_by_test_id("dropped-count")).to_have_text("丢失 0 个事件")
    expect(server_card.locator(".ep-kind")).to_have_text("TCP 服务器")
    expect(server_card.get_by_test_id("endpoint-state")).to_have_text("监听中")
    expect(server_card.get_by_test_id("stop-listening")).to_have_text("停止监听")
    expect(log_rows(page, "listen", server).locator(".kind-badge")).to_have_text("监听")

    page.reload()
    wait_ready(page)
    expect(page.get_by_test_id("lang-select")).to_have_value("zh")
    expect(page.get_by_test_id("tab-create")).to_have_text("新建套接字")
    expect(page.get_by_test_id("create-hint")).to_contain_text("每个客户端一个新的套接字")
    expect(page.locator('[data-testid="endpoint-card"] .ep-kind')).to_have_text("TCP 服务器")

    page.get_by_test_id("lang-select").select_option("en")
    expect(page.get_by_test_id("tab-create")).to_have_text("New socket")
    expect(log_rows(page, "listen", server).locator(".kind-badge")).to_have_text("listen")


def test_default_language_follows_the_browser(browser: Any, live_server: Any) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        wait_ready(page)
        expect(page.get_by_test_id("lang-select")).to_have_value("zh")
        expect(page.get_by_test_id("tab-create")).to_have_text("新建套接字")
    finally:
        context.close()
