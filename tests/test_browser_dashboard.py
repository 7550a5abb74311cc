"""The pages in headless Chromium (Debian's) against a real `trackside serve`.

The coach sets up a session on the page, starts it, sees the splits the test
posts; the screen shows the cue and deviation; a dropped connection resyncs
from the snapshot. Screenshots go to artifacts/screenshots/ (look at them after a change;
``make screenshots`` copies them into docs/img).
"""

from __future__ import annotations

import os

import pytest
from screenshot_dir import screenshot_path
from test_dashboard_support import TOKEN, ServerProcess, plan_crossings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# trackside.lan: the server under a LAN-style name, an insecure context (like
# http://10.0.0.2:5000 on the field), where the page has no Wake Lock API
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--host-resolver-rules=MAP trackside.lan 127.0.0.1",
        "--autoplay-policy=no-user-gesture-required"]
XSS = '<img src=x onerror="window.pwned=1">Ann'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("browser") / "log.db") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def fmt_dev(x: float) -> str:
    r = round(x * 10) / 10
    return ("+" if r >= 0 else "−") + f"{abs(r):.1f}"


def test_coach_sets_up_starts_and_sees_splits_then_screen_and_resync(server, browser):
    dialogs: list[str] = []
    coach_ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    coach_ctx.set_default_timeout(8000)
    coach = coach_ctx.new_page()
    coach.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    coach.goto(f"{server.url}/coach?token={TOKEN}")
    coach.wait_for_selector("#conn.live")
    assert "token" not in coach.url  # stored, then removed from the address bar

    # --- set up two athletes on the page (one with markup in the name) and start
    coach.click(".tab[data-tab=setup]")
    coach.fill("#session-title", "Browser session")
    coach.fill("#roster-rows tr:nth-child(1) .name", "Ann Lee")
    coach.fill("#roster-rows tr:nth-child(1) .five-k", "20:00")
    coach.click("#add-athlete")
    coach.fill("#roster-rows tr:nth-child(2) .name", "Bo")
    coach.fill("#roster-rows tr:nth-child(2) .five-k", "18:20")
    coach.select_option("#roster-rows tr:nth-child(2) .lane", "3")
    coach.click("#add-athlete")
    coach.fill("#roster-rows tr:nth-child(3) .name", XSS)
    coach.fill("#roster-rows tr:nth-child(3) .five-k", "22:30")
    coach.select_option("#roster-rows tr:nth-child(3) .variant", "lane8")
    coach.click("#create-session")
    coach.wait_for_selector(".message.ok")
    coach.click("#setup-start")
    coach.click(".tab[data-tab=live]")
    coach.wait_for_function("document.querySelectorAll('td.status.running').length === 3")
    state = server.state()
    assert [a["lane"] for a in state["athletes"]] == [1, 3, 8]  # lane8 variant sets lane 8
    assert state["athletes"][2]["variant"] == "lane8"
    start_s = state["athletes"][0]["start_s"]

    # --- the test posts Ann's first three marks; the coach page shows them
    devs = [0.4, 1.6, 0.8]
    for mark, t in plan_crossings(state, "a1", start_s, devs):
        assert server.post("/crossings", {"mark": mark, "time_s": t, "athlete": "a1",
                                          "source": "rfid"}).status_code == 200
    row = coach.locator("tr[data-athlete=a1]")
    row.locator("td.dev", has_text=fmt_dev(devs[2] - devs[1])).wait_for()
    cells = row.locator("td.dev").all_text_contents()
    assert cells == [fmt_dev(devs[2] - devs[1]), fmt_dev(devs[2])]
    assert "ahead" in row.locator("td.dev").first.get_attribute("class")
    assert "behind" in row.locator("td.dev").nth(1).get_attribute("class")
    # the coach's threshold changes the colour: within +-2 s everything is "on plan"
    coach.fill("#on-plan", "2")
    assert "on" in row.locator("td.dev").nth(1).get_attribute("class").split()
    coach.fill("#on-plan", "0.5")
    # the split grid shows plan vs actual for 3 segments
    assert coach.locator("#split-rows tr:not(.pending)").count() == 3
    # markup in a name is text, never markup
    xss_row = coach.locator("tr[data-athlete=a3]")
    assert xss_row.locator("td.name strong").text_content() == XSS
    assert coach.locator("img").count() == 0
    assert coach.evaluate("window.pwned") is None and not dialogs

    # --- tap-to-time: Bo crosses the finish line (the first mark of a mile)
    coach.click(".tab[data-tab=tap]")
    coach.click("#tap-marks >> text=Finish line")
    coach.click("button.tap[data-athlete=a2]")
    coach.wait_for_selector("#tap-log li:has-text('✓')")
    bo = server.state()["athletes"][1]
    assert bo["splits"] and bo["splits"][0]["source"] == "tap"
    coach.click(".tab[data-tab=live]")
    coach.locator("tr[data-athlete=a2] td.dev").first.wait_for()
    coach.click("tr[data-athlete=a1]")
    coach.wait_for_timeout(150)
    coach.screenshot(path=str(screenshot_path("coach.png")))

    # --- the trackside screen follows Ann: deviation, cue, lap, ghost
    screen_ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    screen_ctx.set_default_timeout(8000)
    screen = screen_ctx.new_page()
    screen.goto(f"{server.url}/screen?athletes=a1")
    screen.wait_for_selector("#conn.live")
    last = server.state()["athletes"][0]["splits"][-1]
    panel = screen.locator("section.panel[data-athlete=a1]")
    assert panel.locator("[data-role=deviation]").text_content() == fmt_dev(last["deviation_s"])
    assert panel.locator("[data-role=cue]").text_content() == last["next_cue"]["text"]
    assert panel.locator(".lap").text_content() == "LAP 1/4"
    assert "ghost" in panel.locator("[data-role=ghost]").text_content()
    assert panel.locator(".who").text_content() == "Ann Lee"
    assert screen.locator("#picker button", has_text="onerror").text_content() == XSS
    assert screen.locator("img").count() == 0 and screen.evaluate("window.pwned") is None
    screen.screenshot(path=str(screenshot_path("screen.png")))

    # --- drop the screen's connection, post a split meanwhile, come back: resynced
    screen_ctx.set_offline(True)
    screen.wait_for_selector("#conn.offline")
    (_, _), (_, _), (_, _), (mark, t) = plan_crossings(state, "a1", start_s, [*devs, 2.9])
    server.post("/crossings", {"mark": mark, "time_s": t, "athlete": "a1"})
    want = fmt_dev(2.9 - devs[2])
    screen.wait_for_timeout(300)
    assert panel.locator("[data-role=deviation]").text_content() != want  # still stale
    screen_ctx.set_offline(False)
    screen.wait_for_selector("#conn.live")
    panel.locator("[data-role=deviation]", has_text=want).wait_for(timeout=5000)
    assert panel.locator(".total").text_content() == "total " + fmt_dev(2.9)

    # --- a server restart on the same port: the coach page shows it and comes back
    server.stop()
    coach.wait_for_selector("#conn.offline")
    server.start()
    coach.wait_for_selector("#conn.live", timeout=15000)
    coach.locator("tr[data-athlete=a1] td.dev", has_text=want).wait_for(timeout=5000)
    screen_ctx.close()
    coach_ctx.close()


def test_screen_shows_waiting_state_and_picker(server, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.goto(f"{server.url}/screen")
    page.wait_for_selector("#conn.live")
    page.wait_for_selector("section.panel[data-athlete]")
    assert page.locator("section.panel[data-athlete]").count() >= 1
    # choosing an athlete in the picker follows only them
    page.click("#picker button:has-text('Bo')")
    page.wait_for_function(
        "document.querySelectorAll('section.panel[data-athlete]').length === 1")
    assert page.locator("section.panel").get_attribute("data-athlete") == "a2"
    assert "athletes=a2" in page.url
    ctx.close()


def test_screen_ghost_moves_between_crossings_and_says_if_it_keeps_awake(server, browser):
    """No split arrives for seconds, yet the ghost gap moves with the server's clock."""
    import time

    names = {"athletes": [{"id": "g1", "name": "Gus", "five_k_s": 1200, "lane": 1}]}
    assert server.post("/sessions", names).status_code == 201
    start_s = time.time() - 40.0  # the gun went 40 s ago (same machine: same clock)
    assert server.post("/sessions/current/start", {"time_s": start_s}).status_code == 200
    state = server.state()
    # two marks: the second split 2 s slower than plan (ratio to plan ~0.93)
    marks = plan_crossings(state, "g1", start_s, [0.2, 2.2])
    for mark, t in marks:
        assert server.post("/crossings", {"mark": mark, "time_s": t, "athlete": "g1"}
                           ).status_code == 200
    last = server.state()["athletes"][0]["splits"][-1]
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    ctx.set_default_timeout(8000)
    page = ctx.new_page()
    page.goto(f"http://trackside.lan:{server.port}/screen?athletes=g1")
    page.wait_for_selector("#conn.live")
    ghost = page.locator("section.panel[data-athlete=g1] [data-role=ghost]")
    ghost.wait_for()
    read = "() => parseFloat(document.querySelector('[data-role=ghost]').dataset.gapM)"
    gap1 = page.evaluate(read)
    page.wait_for_timeout(1500)
    gap2 = page.evaluate(read)
    # the runner is behind plan and slower than it: the ghost pulls away, ~0.3-0.8 m/s
    assert gap1 < last["ghost_gap_m"] and gap2 < gap1 - 0.2, (last["ghost_gap_m"], gap1, gap2)
    assert gap1 - gap2 < 2.0
    # the text says the same gap: read both in one tick (the page redraws 4x/s); data-gap-m
    # is rounded to 0.01 m and the text to 0.1 m from the same value, so they agree to 0.05
    shown = page.evaluate("() => { const s = document.querySelector('[data-role=ghost]');"
                          " return [s.textContent, parseFloat(s.dataset.gapM)]; }")
    text_m = float(shown[0].split()[1])
    assert shown[0].endswith(" m ahead") and abs(text_m - abs(shown[1])) <= 0.0501, shown
    # plain http on a LAN name: no Wake Lock API, and the bar says what holds instead
    assert page.evaluate("window.isSecureContext") is False
    assert page.evaluate("'wakeLock' in navigator") is False
    awake = page.locator("#awake")
    page.wait_for_function("document.querySelector('#awake').dataset.state !== 'off'"
                           " || document.querySelector('#awake').textContent.includes('http')")
    assert awake.get_attribute("data-state") in ("video", "off")
    assert "http" in awake.text_content()
    if awake.get_attribute("data-state") == "video":
        assert page.evaluate("!document.querySelector('video.keepawake').paused")
    page.screenshot(path=str(screenshot_path("screen-lan.png")))
    ctx.close()
