"""Starting a browser for the browser target: which browser, which client certificate, which CA.

- **The browser** is the system's, never a download: ``AINAS_BROWSER`` names an executable or a
  Playwright channel (``msedge``, ``chrome``); else Microsoft Edge on Windows (the guide's
  operators use it) and Chromium on Linux — Debian's ``chromium-headless-shell`` for headless
  runs, the full ``chromium`` for a visible (supervised) one.
- **The client certificate** (``AINAS_CLIENT_CERT``, a ``.pfx``) is read into memory and handed to
  the browser context as bytes. A legacy encoding the browser refuses (RC2-40, RC4, DES of old
  Windows exports) is re-encoded in memory with ``cryptography`` under the same password (AES-256):
  no key is ever written to disk.
- **The server's CA** (``AINAS_CA_FILE``) reaches Playwright's Node process, which carries the TLS,
  as ``NODE_EXTRA_CA_CERTS``; it must be in the environment before Playwright starts.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from ainas_provision.certs.pfx import LEGACY, inspect
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _

EXTRA = "ainas-provision[browser]"
LINUX_HEADLESS = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/lib/chromium-browser/chromium-browser",
)
LINUX_HEADED = ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")
CHANNELS = ("msedge", "chrome", "chromium", "msedge-beta", "chrome-beta")


def playwright_api():
    """``playwright.sync_api``, or a clear error naming the extra to install."""
    try:
        from playwright import sync_api
    except ImportError:
        raise AinasProvisionError(
            _(
                "the browser target needs Playwright, which is not installed: pip install "
                "'{extra}' (Playwright drives the system's Chromium or Edge; nothing is downloaded)"
            ).format(extra=EXTRA)
        ) from None
    return sync_api


def launch_options(
    env: Mapping[str, str] = os.environ, *, headless: bool = True, platform: str = sys.platform
) -> dict:
    """The keyword arguments of ``chromium.launch`` for this machine."""
    options: dict = {"headless": headless}
    named = env.get("AINAS_BROWSER", "").strip()
    if named:
        if named in CHANNELS:
            return {**options, "channel": named}
        path = Path(named)
        if not path.is_file():
            found = shutil.which(named)
            if not found:
                raise AinasProvisionError(
                    _(
                        "AINAS_BROWSER is {named}: no such file, and not a browser channel "
                        "({channels})"
                    ).format(named=named, channels=", ".join(CHANNELS))
                )
            path = Path(found)
        return {**options, "executable_path": str(path)}
    if platform.startswith("win"):
        return {**options, "channel": "msedge"}
    if platform == "darwin":
        return {**options, "channel": "chrome"}
    for candidate in LINUX_HEADLESS if headless else LINUX_HEADED:
        if os.access(candidate, os.X_OK):
            return {**options, "executable_path": candidate}
    raise AinasProvisionError(
        _(
            "no Chromium found for the browser target: install Debian's chromium-headless-shell "
            "(apt-get install chromium-headless-shell) or chromium, or name a browser with "
            "AINAS_BROWSER"
        )
        if headless
        else _(
            "no Chromium found for the browser target: install Debian's chromium (a visible "
            "browser needs the full chromium), or name a browser with AINAS_BROWSER"
        )
    )


def client_certificate_bytes(data: bytes, password: str, where: str) -> bytes:
    """``data`` (a ``.pfx``) as the browser can use it: as is, or — when it uses a cipher of
    OpenSSL's legacy provider — re-encoded in memory with AES-256 under the same password."""
    try:
        shape = inspect(data)
    except Exception:  # not readable as PKCS#12: let the loader below say why
        shape = None
    ciphers = set(getattr(shape, "ciphers", ()) or ())
    if shape is not None and not ciphers & LEGACY:
        return data
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode())
    except ValueError:
        raise AinasProvisionError(
            _(
                "cannot open the client certificate {file}: wrong password "
                "(AINAS_CLIENT_CERT_PASSWORD, the クライアント証明書パスワード of the 利用登録通知書), "
                "or an encryption the installed OpenSSL cannot read"
            ).format(file=where)
        ) from None
    return pkcs12.serialize_key_and_certificates(
        None, key, cert, extra, BestAvailableEncryption(password.encode())
    )


def ca_environment(ca_file: Path | None) -> None:
    """Let Playwright's Node process trust ``ca_file`` (before Playwright starts)."""
    if ca_file is not None:
        os.environ["NODE_EXTRA_CA_CERTS"] = str(Path(ca_file).resolve())
