"""Running `s2f app` as a user does and driving its page in headless Chromium (Selenium).

The browser is Debian's `chromium` with its `chromedriver` (`bash tests/install_browser.sh`); nothing is
downloaded at run time (no Selenium Manager, no webdriver-manager). Used by tests/test_app.py, and runnable
to take the README's screenshot of a running app:

    python tests/app_browser.py --url http://127.0.0.1:PORT/ --wav voice.wav --out docs/app_screenshot.png
"""

from __future__ import annotations

import io
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np

SERVING = re.compile(r"^s2f app: serving (http://\S+/) ")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test,app]')"
    if chromium() is None or shutil.which("chromedriver") is None:
        return (
            "Chromium or chromedriver is not installed (bash tests/install_browser.sh installs"
            " Debian's chromium and chromium-driver)"
        )
    return None


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_browser(width: int = 1280, height: int = 1000, microphone=None):
    """Headless Chromium through the local chromedriver (never Selenium Manager's downloads).

    With `microphone` (a WAV path), Chromium's fake capture device plays that file, looped, as the
    microphone, and the permission prompt is answered yes.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    if microphone is not None:
        options.add_argument("--use-fake-ui-for-media-stream")
        options.add_argument("--use-fake-device-for-media-stream")
        options.add_argument(f"--use-file-for-fake-audio-capture={microphone}")
    options.binary_location = chromium()
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


class AppProcess:
    """`python -m s2f_tf app ARGS` in a subprocess (in folder `cwd`); `url` once it serves. Output
    lines are collected by reader threads (`stdout`, `stderr`)."""

    def __init__(self, args, env=None, timeout: float = 300.0, cwd=None):
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "s2f_tf", "app", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
            cwd=cwd,
        )
        self.stdout, self.stderr = [], []
        self._lines = queue.Queue()
        for stream, sink in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()
        self.url = self._wait_for_url(timeout)

    def _read(self, stream, sink):
        for line in stream:
            sink.append(line.rstrip("\n"))
            self._lines.put(line)
        self._lines.put(None)

    def _wait_for_url(self, timeout):
        deadline, ended = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                ended += 1
                if ended == 2:
                    break
                continue
            match = SERVING.match(line)
            if match:
                return match.group(1)
        self.process.kill()
        raise RuntimeError(
            f"s2f app did not start (exit {self.process.poll()}):\n" + "\n".join(self.stderr[-20:])
        )

    def stop(self, signal_number, timeout: float = 60.0) -> int:
        """Send `signal_number`; the exit status (the output is complete afterwards)."""
        self.process.send_signal(signal_number)
        code = self.process.wait(timeout)
        time.sleep(0.2)  # let the reader threads drain the pipes
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def fetch_png(url: str) -> np.ndarray:
    from PIL import Image

    with urllib.request.urlopen(url, timeout=30) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))


def upload(driver, url: str, path, timeout: float = 90.0) -> dict:
    """Open the page, upload the audio file `path` and wait for the answer.

    Returns {"message": the message line's text, "face": uint8 image shown (None if none),
    "nearest": number of gallery images, "speech": whether the speech picture is shown}.
    """
    from selenium.webdriver.common.by import By

    driver.get(url)
    voice = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#s2f-voice"), timeout)[0]
    voice.find_element(By.CSS_SELECTOR, "button[aria-label='Upload file']").click()
    field = _wait(
        driver, lambda: voice.find_elements(By.CSS_SELECTOR, "input[type=file]"), timeout
    )[0]
    field.send_keys(str(path))
    return _answer(driver, timeout)


def record(driver, url: str, seconds: float, timeout: float = 90.0) -> dict:
    """Open the page, record from the microphone for `seconds`, stop; the answer as `upload` gives it."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    _wait(
        driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#s2f-voice .record-button"), timeout
    )
    driver.find_element(By.CSS_SELECTOR, "#s2f-voice .record-button").click()
    time.sleep(seconds)
    stop = _wait(
        driver,
        lambda: [
            b
            for b in driver.find_elements(By.CSS_SELECTOR, "#s2f-voice .stop-button")
            if b.is_displayed()
        ],
        timeout,
    )
    stop[0].click()
    return _answer(driver, timeout)


def _answer(driver, timeout):
    from selenium.webdriver.common.by import By

    def answered():
        message = driver.find_element(By.CSS_SELECTOR, "#s2f-message").text.strip()
        faces = driver.find_elements(By.CSS_SELECTOR, "#s2f-face img")
        if message and (faces or message.startswith("Could not")):
            return message, faces
        return None

    message, faces = _wait(driver, answered, timeout)
    time.sleep(0.3)  # the other outputs render in the same update
    return {
        "message": message,
        "face": fetch_png(faces[0].get_attribute("src")) if faces else None,
        "nearest": len(driver.find_elements(By.CSS_SELECTOR, "#s2f-nearest img")),
        "speech": bool(driver.find_elements(By.CSS_SELECTOR, "#s2f-speech img")),
    }


def _wait(driver, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise TimeoutError(f"the page did not answer within {timeout:g} s")


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description="Screenshot of a running s2f app after an upload.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--wav", required=True)
    parser.add_argument("--out", required=True, help="PNG path")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)
    reason = browser_missing()
    if reason:
        sys.exit(reason)
    driver = start_browser(args.width, args.height)
    try:
        answer = upload(driver, args.url, os.path.abspath(args.wav))
        driver.save_screenshot(args.out)
    finally:
        driver.quit()
    print(answer["message"])


if __name__ == "__main__":
    main()
