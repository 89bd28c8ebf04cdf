"""Downloads from the UI: framed and verified, raw until EOF, and a failure explained."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

from .ui import create, expect, log_rows


def start_download(page: Any, file: str | None = None, protocol: str | None = None) -> Any:
    """Submit the download form (the server already chosen); returns the download's item."""
    form = page.get_by_test_id("download-form")
    if file is not None:
        form.get_by_test_id("download-file").select_option(file)
    if protocol is not None:
        form.get_by_test_id("download-protocol").select_option(protocol)
    with page.expect_response(lambda r: r.url.endswith("/api/downloads") and r.request.method == "POST") as answer:
        form.get_by_test_id("download-submit").click()
    assert answer.value.status == 202, answer.value.text()
    dl_id = answer.value.json()["id"]
    assert dl_id.startswith("d")
    return page.locator(f'[data-testid="download"][data-download-id="{dl_id}"]')


def test_framed_download_is_verified_and_saved(page: Any, live_server: Any) -> None:
    expected = (Path(live_server.app.config["FILES"]) / "random-1MB.bin").read_bytes()
    digest = hashlib.sha256(expected).hexdigest()
    server, _ = create(page, "tcp-server", mode="files", protocol="framed")

    page.get_by_test_id("tab-download").click()
    form = page.get_by_test_id("download-form")
    expect(form.get_by_test_id("download-server")).to_have_value(server)  # the new file server
    expect(form.get_by_test_id("download-protocol")).to_have_value("framed")  # as that server speaks
    item = start_download(page, file="random-1MB.bin")

    expect(item.get_by_test_id("download-state")).to_have_attribute("data-state", "done")
    expect(item.get_by_test_id("download-verified")).to_be_visible()
    expect(item.get_by_test_id("download-verified")).to_contain_text("verified")
    expect(item.get_by_test_id("download-progress")).to_have_attribute("value", str(len(expected)))
    expect(item.get_by_test_id("download-bytes")).to_have_text("1,048,576 of 1,048,576 bytes")
    expect(item.get_by_test_id("download-sha")).to_have_text(f"{digest[:16]}…{digest[-8:]}")
    expect(log_rows(page, "done")).to_have_count(1)

    save = item.get_by_test_id("download-save")
    answer = page.request.get(live_server.url + save.get_attribute("href"))
    assert answer.status == 200
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.body() == expected
    with page.expect_download() as saved:
        save.click()
    assert Path(saved.value.path()).read_bytes() == expected


def test_raw_download_reads_until_eof(page: Any, live_server: Any) -> None:
    expected = (Path(live_server.app.config["FILES"]) / "hello.txt").read_bytes()
    server, _ = create(page, "tcp-server", mode="file", file="hello.txt")

    page.get_by_test_id("tab-download").click()
    form = page.get_by_test_id("download-form")
    expect(form.get_by_test_id("download-server")).to_have_value(server)
    expect(form.get_by_test_id("download-file")).to_have_value("")  # "file" mode: no name to send
    item = start_download(page, protocol="raw")

    expect(item.get_by_test_id("download-state")).to_have_attribute("data-state", "done")
    expect(item.get_by_test_id("download-bytes")).to_have_text(f"{len(expected)} bytes")
    expect(item.get_by_test_id("download-progress")).to_have_count(0)  # size unknown: a count only
    expect(item.get_by_test_id("download-verified")).to_have_count(0)  # nothing announced to verify
    answer = page.request.get(live_server.url + item.get_by_test_id("download-save").get_attribute("href"))
    assert answer.status == 200 and answer.body() == expected


def test_failed_download_shows_the_reason(page: Any, live_server: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="files", protocol="framed")
    port = server_card.get_by_test_id("endpoint-port").inner_text()
    page.get_by_test_id("tab-download").click()
    form = page.get_by_test_id("download-form")
    form.get_by_test_id("download-server").select_option("other")
    form.get_by_test_id("download-address").fill(f"127.0.0.1:{port}")
    form.get_by_test_id("download-file").select_option("hello.txt")
    (Path(live_server.app.config["FILES"]) / "hello.txt").unlink()  # gone by the time it is asked for
    item = start_download(page, protocol="framed")

    expect(item.get_by_test_id("download-state")).to_have_attribute("data-state", "failed")
    expect(item.get_by_test_id("download-error")).to_contain_text("hello.txt")
    expect(item.get_by_test_id("download-save")).to_have_count(0)


def test_download_from_nothing_listening_is_refused_in_the_form(page: Any) -> None:
    page.get_by_test_id("tab-download").click()
    form = page.get_by_test_id("download-form")
    form.get_by_test_id("download-server").select_option("other")
    form.get_by_test_id("download-address").fill("not an address")
    form.get_by_test_id("download-submit").click()
    expect(form.get_by_test_id("download-error")).to_contain_text("host:port")

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        form.get_by_test_id("download-address").fill(f"127.0.0.1:{holder.getsockname()[1]}")
        with page.expect_response(lambda r: r.url.endswith("/api/downloads")) as answer:
            form.get_by_test_id("download-submit").click()
    assert answer.value.status == 409
    expect(form.get_by_test_id("download-error")).to_contain_text("refused")
