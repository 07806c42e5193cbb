"""Headless Chromium (Debian's chromium + chromium-driver) through Selenium, or a skip when it is absent."""

from __future__ import annotations

import contextlib
import shutil

import pytest

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


@contextlib.contextmanager
def chromium():
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver_path):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield browser
    finally:
        browser.quit()


# every <math> block's rendered size, and whether it is wider than its container (then it scrolls)
MATH_SIZES = (
    "return Array.from(document.querySelectorAll('math')).map(m => { const r = m.getBoundingClientRect();"
    " return [r.width, r.height, m.textContent.slice(0, 60)]; });"
)
