"""Fixtures of the browser tests (test_web.py): the server, the mail
catcher, headless Chromium, and the people and albums the flows share.

A service the tests need and do not find is a failure, never a skip: the
server binary (PROOFSHEET_BIN), the SMTP catcher (PROOFSHEET_TEST_SMTP_URL
and PROOFSHEET_TEST_MAILDIR, from scripts/services.sh) and Chromium
(CHROMIUM). "Find me" needs its models and test photos too
(PROOFSHEET_FACES_MODELS_DIR, PROOFSHEET_TEST_FACES_IMAGES): without them
its test fails when the server is built with `faces` (PROOFSHEET_FEATURES),
and is skipped, saying why, when it is not.

scripts/browser.sh builds the binary, starts the services and runs pytest.
"""

import email
import email.policy
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image, ImageDraw
from playwright.sync_api import expect, sync_playwright

PASSWORD = "correct horse battery"
RUN = uuid.uuid4().hex[:8]
SHOTS = Path(os.environ.get("SCREENSHOTS", "target/web-screenshots"))
SERVER_LOG = SHOTS.parent / "browser-server.log"
SHAPES = [(1200, 800), (800, 1200), (1500, 500), (1000, 1000), (1200, 800)]
AXE = Axe()
CHECKED = []


def required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: the browser tests need it (scripts/browser.sh sets it)", pytrace=False)
    return value


# ---- the server and the mail catcher ----

class Mail:
    """The SMTP catcher's Maildir (aiosmtpd, started by scripts/services.sh)."""

    def __init__(self, maildir: Path):
        self.dir = maildir

    def to(self, addr: str):
        """(subject, plain body) of every message to `addr`, oldest first."""
        out = []
        for sub in ("new", "cur"):
            folder = self.dir / sub
            for f in sorted(folder.glob("*"), key=lambda p: p.stat().st_mtime) if folder.exists() else []:
                msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                if addr in str(msg["To"]):
                    body = msg.get_body(preferencelist=("plain",))
                    out.append((str(msg["Subject"]), body.get_content() if body else ""))
        return out

    def wait(self, addr: str, subject_part: str, count: int = 1, timeout: float = 20):
        """The `count`th message to `addr` whose subject has `subject_part`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [m for m in self.to(addr) if subject_part in m[0]]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.2)
        raise AssertionError(f"no mail to {addr} with {subject_part!r}; have {[m[0] for m in self.to(addr)]}")


@pytest.fixture(scope="session")
def mail() -> Mail:
    maildir = Path(required("PROOFSHEET_TEST_MAILDIR"))
    if not maildir.is_dir():
        pytest.fail(f"the mail catcher's Maildir {maildir} does not exist", pytrace=False)
    return Mail(maildir)


@pytest.fixture(scope="session")
def base(mail) -> str:
    """The server's URL: PROOFSHEET_URL if one runs already, else a server of
    its own on the embedded default (SQLite, files), in a fresh data
    directory, mailing through the catcher, stopped at the end."""
    if os.environ.get("PROOFSHEET_URL"):
        yield os.environ["PROOFSHEET_URL"].rstrip("/")
        return
    binary = required("PROOFSHEET_BIN")
    smtp = required("PROOFSHEET_TEST_SMTP_URL")
    port = os.environ.get("PORT", "18282")
    data = Path(tempfile.mkdtemp(prefix="ps-browser-"))
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PROOFSHEET__MAIL__SMTP_URL=smtp, PROOFSHEET__LIMITS__ENABLED="false")
    if os.environ.get("PROOFSHEET_FACES_MODELS_DIR"):
        env["PROOFSHEET__FACES__MODELS_DIR"] = os.environ["PROOFSHEET_FACES_MODELS_DIR"]
    log = open(SERVER_LOG, "wb")
    server = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", str(data)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"the server exited: {SERVER_LOG.read_text()[-2000:]}", pytrace=False)
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /healthz in 30 s", pytrace=False)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    """On a failure, the server's last words."""
    if exitstatus not in (0, 5) and SERVER_LOG.exists():
        lines = SERVER_LOG.read_text(errors="replace").splitlines()[-40:]
        print(f"\n== server log ({SERVER_LOG}), last 40 lines\n" + "\n".join(lines))


@pytest.fixture(scope="session")
def browser():
    chromium = required("CHROMIUM")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )
        yield b
        b.close()
    print(f"\npages checked (axe, 375/1440 px, screenshots in {SHOTS}): {', '.join(CHECKED)}")


@pytest.fixture(scope="session")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("photos")


# ---- what every page is held to ----

def check_page(page, name: str):
    """axe (no serious or critical violation), one h1, html lang, the
    landmarks, a title, no sideways scroll at 375 px or 1440 px; screenshots
    at both widths. Every problem of the page fails the test at once."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for width in (375, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{overflow}px sideways scroll at {width}px")
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    result = AXE.run(page)
    for v in result.response["violations"]:
        if v.get("impact") in ("serious", "critical"):
            problems.append(f"axe {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}")
    if page.locator("h1").count() != 1:
        problems.append("not exactly one h1")
    if page.locator("html[lang]").count() != 1:
        problems.append("no html lang")
    for landmark in ("banner", "main", "navigation"):
        if page.get_by_role(landmark).count() < 1:
            problems.append(f"no {landmark} landmark")
    if not page.title():
        problems.append("no title")
    assert not problems, f"page {name}: " + "; ".join(problems)
    CHECKED.append(name)


# ---- photos ----

def jpeg(i: int) -> bytes:
    """A distinct camera-like JPEG: landscape, portrait, a 3:1 panorama,
    square, in turn (the gallery must show each whole)."""
    img = Image.new("RGB", SHAPES[i % len(SHAPES)], (40 + 40 * i % 200, 90, 160 - 20 * i % 120))
    d = ImageDraw.Draw(img)
    for k in range(12):
        d.ellipse((80 * k, 50 * i + 30 * k, 80 * k + 300, 50 * i + 30 * k + 200), fill=(255 - 20 * k, 30 * i % 255, 20 * k))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def logo_png(path: Path):
    mark = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
    d = ImageDraw.Draw(mark)
    d.ellipse((4, 4, 236, 236), fill=(250, 246, 235, 255), outline=(25, 45, 90, 255), width=22)
    d.rectangle((80, 70, 100, 170), fill=(25, 45, 90, 255))
    d.rectangle((100, 70, 160, 90), fill=(25, 45, 90, 255))
    d.rectangle((100, 110, 160, 130), fill=(25, 45, 90, 255))
    d.rectangle((140, 90, 160, 110), fill=(25, 45, 90, 255))
    mark.save(path)


# ---- the steps the flows share ----

def register(page, mail: Mail, name, surname, addr, role, keep_password=True, shot=None):
    """Registers, then follows the mailed link that proves the address and
    signs in (typing the password to keep it)."""
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_role("textbox", name="Surname").fill(surname)
    page.get_by_role("textbox", name="Email").fill(addr)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("radio", name=role).check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    if shot:
        check_page(page, f"{shot}-sent")
    _, body = mail.wait(addr, "Confirm your e-mail address")
    link = re.search(r"https?://\S+/verify-email\?\S+", body).group(0)
    page.goto(link)
    if shot:
        check_page(page, f"{shot}-confirm")
    if keep_password:
        page.get_by_label("Password (optional)").fill(PASSWORD)
    page.get_by_role("button", name="Confirm my e-mail address").click()


def create_album(page, base, name, client_email, visibility="Private"):
    page.goto(f"{base}/albums")
    page.get_by_role("link", name="New album").click()
    page.get_by_role("textbox", name="Album name").fill(name)
    if client_email:
        page.get_by_role("textbox", name="Client name").fill("Kim Lou")
        page.get_by_role("textbox", name="Client email").fill(client_email)
    page.get_by_role("combobox", name="Visibility").select_option(label=visibility)
    page.get_by_role("textbox", name="Price per photo").fill("5.00")
    page.get_by_role("combobox", name="Currency").select_option("EUR")
    page.get_by_role("button", name="Create album").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url.rsplit("/", 1)[1]


def publish(page):
    """An album made in the web app is a draft: "Publish" opens it (and
    mails the invitation)."""
    expect(page.get_by_role("region", name="Draft")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").first).to_contain_text("Published")
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)


def upload(page, tmp: Path, names, break_one=False):
    """Uploads through the studio, which speaks tus: each file is created
    (POST .../uploads) and sent in PATCHes. With `break_one`, the first
    PATCH fails as a dropped connection would; the uploader asks how far
    it got (HEAD) and goes on."""
    paths = []
    for i, n in enumerate(names):
        p = tmp / n
        p.write_bytes(jpeg(i))
        paths.append(p)
    sent = []

    def record(r):
        sent.append((r.method, r.url))

    page.on("request", record)
    broken = []

    def cut(route):
        if route.request.method == "PATCH" and not broken:
            broken.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    uploads = re.compile(r".*/api/v1/albums/[^/]+/uploads/[^/]+$")
    if break_one:
        page.route(uploads, cut)
    page.get_by_label("Add photos").set_input_files([str(p) for p in paths])
    for n in names:
        expect(page.get_by_role("listitem").filter(has_text=n)).to_contain_text("Ready", timeout=60_000)
    if break_one:
        page.unroute(uploads)
        assert broken, "a PATCH was cut"
        assert ("HEAD", broken[0]) in sent, "the uploader asked where to resume"
    page.remove_listener("request", record)
    creations = [u for m, u in sent if m == "POST" and u.endswith("/uploads")]
    patches = [u for m, u in sent if m == "PATCH" and "/uploads/" in u]
    assert len(creations) == len(names), f"one tus upload per file: {creations}"
    assert len(patches) >= len(names), patches
    assert not [u for m, u in sent if m == "POST" and u.endswith("/photos")], "no plain uploads"
    return {p.name: p.read_bytes() for p in paths}


# ---- the people and the album the flows share ----

class Person:
    def __init__(self, context, page, addr):
        self.context, self.page, self.addr = context, page, addr


@pytest.fixture(scope="session")
def photographer(browser, base, mail):
    """Ann, a photographer, registered through the web app and signed in."""
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{base}/register")
    check_page(page, "register")
    addr = f"ph-{RUN}@studio.test"
    register(page, mail, "Ann", "Lee", addr, "Photographer", shot="register")
    expect(page).to_have_url(re.compile(r"/albums$"))
    yield Person(ctx, page, addr)
    ctx.close()


class Album:
    def __init__(self, id, name, client, originals):
        self.id, self.name, self.client, self.originals = id, name, client, originals


@pytest.fixture(scope="session")
def wedding(photographer, base, tmp):
    """"Wedding of Kim & Lou": a private draft for Kim's address, with five
    photos uploaded through the studio (one upload cut and resumed)."""
    ph = photographer.page
    ph.goto(f"{base}/albums")
    ph.get_by_role("link", name="New album").click()
    check_page(ph, "album-new")
    client = f"cl-{RUN}@home.test"
    album = create_album(ph, base, "Wedding of Kim & Lou", client)
    originals = upload(ph, tmp, [f"IMG_{i}.jpg" for i in range(1, 6)], break_one=True)
    expect(ph.get_by_role("status").filter(has_text="uploaded")).to_have_text("5 of 5 uploaded")
    check_page(ph, "studio")
    return Album(album, "Wedding of Kim & Lou", client, originals)


@pytest.fixture(scope="session")
def published(photographer, wedding):
    """The wedding album once its studio flow published it."""
    ph = photographer.page
    ph.goto(ph.url.split("/albums")[0] + f"/albums/{wedding.id}")
    if ph.get_by_role("button", name="Publish").count():
        publish(ph)
    return wedding


@pytest.fixture(scope="session")
def client(browser, base, mail, published):
    """Kim, signed in by the invitation's one-click link."""
    _, body = mail.wait(published.client, "shared")
    link = re.search(r"https?://[^\s\"<>]+/invitations/[A-Za-z0-9_-]+", body).group(0)
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    page.goto(link)
    expect(page).to_have_url(re.compile(rf"/albums/{published.id}$"))
    yield Person(ctx, page, published.client)
    ctx.close()
