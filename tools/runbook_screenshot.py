"""Makes the README's screenshot of the runbook page (docs/runbook.png), in Japanese.

It opens the runbook of the quickstart example in a temporary copy, confirms the first two steps
(the certificate, the site with a made-up 拠点ID) and photographs the third — a batch account, with
the guide's write-once and write-only warnings — in the system's headless Chromium. No secret is
shown: the page shows where each one comes from.

    .venv/bin/python tools/runbook_screenshot.py [OUT.png]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ainas_provision.runbook.server import RunbookServer  # noqa: E402
from ainas_provision.runbook.session import open_session  # noqa: E402
from ainas_provision.workflow.run import Options  # noqa: E402
from tests.browser_support import find_chromium  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "runbook.png"
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quickstart"
        shutil.copytree(REPO / "examples" / "quickstart", path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AINAS_")}
        session = open_session(Options(path=path, env=env), None, "ja", lambda message: None)
        try:
            session.confirm("certificate")
            session.confirm("site.akihabara", {"site_id": "100702242"})
            server = RunbookServer(session)
            server.start()
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=find_chromium())
                    page = browser.new_page(viewport={"width": 720, "height": 1000})
                    page.goto(server.url)
                    page.wait_for_selector(".step.current")
                    page.evaluate("window.scrollTo(0, 0)")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(out))
                    browser.close()
            finally:
                server.stop()
                server.join(10)
        finally:
            session.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
