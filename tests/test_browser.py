"""`arena serve` in a real browser: Debian's Chromium, driven by Playwright (no browser download).

Play a Connect Four move by clicking, see the agent answer with its visit shares, start a tournament and watch
it finish, open a run's curves. Screenshots go to the test's tmp folder, or to `$ARENA_SCREENSHOTS` if set
(`ARENA_SCREENSHOTS=docs pytest tests/test_browser.py` refreshes the README's pictures).
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from runners.serve import ServerThread, create_app

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def page(tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: install Debian's chromium (see .ci/run)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    runs = tmp_path / "runs"
    run = runs / "az-demo"
    run.mkdir(parents=True)
    lines = [
        {"step": s, "train/loss": 2.0 / (1 + s / 200), "train/value_loss": 0.9 / (1 + s / 300), "eval/score": s / 1200}
        for s in range(0, 1000, 20)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with ServerThread(create_app(runs)) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 860})
        tab.set_default_timeout(30_000)
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.base_url = url
        yield tab
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def snap(page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("ARENA_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_play_watch_and_runs_in_chromium(page, tmp_path):
    page.goto(page.base_url + "?game=connect_four")
    page.wait_for_selector('#status[data-state="your-move"]')  # the page opens with a game of its own
    page.fill("#opponent", "az:connect_four,sims=100")
    page.click("#new-game")
    page.wait_for_function("play.view.opponent === 'az:connect_four,sims=100' && !play.busy")
    page.fill("#moves", "4 4 5 3")  # from a position typed as a move list
    page.click("#load")
    page.wait_for_function("play.view.plies === 4 && !play.busy")
    page.click('#board .hit[data-action="5"]')  # drop a disc into column 6
    page.wait_for_function("play.view.plies === 6 && !play.busy")
    view = page.evaluate("play.view")
    assert view["moves"].startswith("4 4 5 3 6 ") and view["cells"][5][5] == 0  # our disc, at the bottom
    assert view["last"]["by"] == 1 and view["search"]["ply"] == 5  # the agent answered, with its search
    assert sum(view["search"]["visits"]) == pytest.approx(1, abs=1e-3)
    assert page.locator("#top-moves li").count() >= 1 and page.locator("#board text.visit").count() == 7
    assert "%" in page.inner_text("#players")
    page.mouse.move(5, 5)  # no hover highlight in the picture
    snap(page, "serve-play", tmp_path)

    # a bad spec: the message shows on the page
    page.fill("#opponent", "grandmaster")
    page.click("#new-game")
    page.wait_for_selector("#error:not(.hidden)")
    assert "unknown agent kind 'grandmaster'" in page.inner_text("#error")

    page.click('.tab[data-view="watch"]')
    page.fill("#t-games", "4")
    page.click("#t-start")
    page.wait_for_function("document.getElementById('t-title').textContent.includes('(finished)')")
    page.wait_for_selector("#rating-plot circle")
    assert page.locator("#ratings tr").count() == 4  # header and three agents
    page.wait_for_function("document.querySelectorAll('#games li').length === 12")
    page.click("#games li >> nth=2")
    page.wait_for_selector('#games li[data-index="2"].active')  # its moves have arrived
    page.click("#r-first")
    page.click("#r-next")
    assert page.inner_text("#replay-text").startswith("1.")
    page.click("#r-last")
    snap(page, "serve-watch", tmp_path)

    page.click('.tab[data-view="runs"]')
    page.click('#runs li[data-name="az-demo"]')
    page.wait_for_selector("#curves svg path")
    assert page.locator("#curves .card").count() == 3
    snap(page, "serve-runs", tmp_path)
