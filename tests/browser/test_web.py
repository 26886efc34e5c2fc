"""Browser tests of the web app (docs/web.md), in headless Chromium driven
by Playwright: one test per flow, with the server, the mail catcher and the
people and albums they share as fixtures (conftest.py). Controls are found
as a screen reader finds them: by role and accessible name; every page is
checked with axe and at 375 and 1440 px (`check_page`).

Run by scripts/browser.sh (which builds the server, starts the SMTP catcher
and installs what is missing). The flows share one server and run in this
file's order; each asks for the state it needs through its fixtures.
"""

import io
import json
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, RUN, SHOTS, check_page, create_album, jpeg, logo_png, publish, register, upload


def test_home_has_a_strict_policy_and_the_way_in(browser, base):
    page = browser.new_context().new_page()
    resp = page.goto(f"{base}/")
    csp = resp.headers.get("content-security-policy", "")
    assert csp and "unsafe-inline" not in csp, f"CSP without unsafe-inline: {csp!r}"
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="Create account").first).to_be_visible()
    check_page(page, "home")
    page.goto(f"{base}/signin")
    check_page(page, "signin")
    page.context.close()


def test_account_sessions_and_password(photographer, browser, base):
    ph = photographer.page
    expect(ph.get_by_role("button", name="Sign out")).to_be_visible()
    # The account page: the password kept at confirmation changes with
    # the current one; a second browser's session ends on "Sign out
    # everywhere else".
    other_ctx = browser.new_context()
    other = other_ctx.new_page()
    other.goto(f"{base}/signin")
    other.get_by_role("textbox", name="Email").fill(photographer.addr)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    expect(other).to_have_url(re.compile(r"/albums$"))
    ph.get_by_role("link", name="Account").click()
    expect(ph.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(ph.get_by_role("listitem").filter(has_text="Signed in")).to_have_count(2)
    check_page(ph, "account")
    ph.get_by_role("button", name="Sign out everywhere else").click()
    expect(ph.get_by_role("status")).to_contain_text("Every other session was signed out")
    other.goto(f"{base}/albums")
    expect(other).to_have_url(re.compile(r"/signin"))
    other_ctx.close()
    ph.get_by_label("Current password").fill("not my password")
    ph.get_by_label("New password").fill(PASSWORD + " 2")
    ph.get_by_role("button", name="Change password").click()
    expect(ph.get_by_role("alert")).to_contain_text("not your current password")
    ph.get_by_label("Current password").fill(PASSWORD)
    ph.get_by_label("New password").fill(PASSWORD)
    ph.get_by_role("button", name="Change password").click()
    expect(ph.get_by_role("status")).to_contain_text("Your password is saved")


def test_studio_keeps_a_draft_private_and_orders_its_photos(photographer, wedding, browser, base, mail):
    ph, album = photographer.page, wedding
    ph.goto(f"{base}/albums/{album.id}")
    # Nobody but the owner sees a draft: the client's address gets no
    # mail yet, and a stranger's browser finds nothing.
    peek = browser.new_context().new_page()
    assert peek.goto(f"{base}/albums/{album.id}").status in (200, 404)
    expect(peek).to_have_url(re.compile(r"/signin\?next="))
    peek.context.close()
    assert not mail.to(album.client), "a draft mails nobody"
    # The studio's order: capture time, then file name (these have no
    # EXIF time). Move one earlier, pick a cover.
    tiles = ph.get_by_role("list", name="Photos in this album").get_by_role("listitem")
    expect(tiles.nth(0)).to_contain_text("IMG_1.jpg")
    tiles.filter(has_text="IMG_3.jpg").get_by_role("button", name="Move earlier").click()
    expect(ph.get_by_role("status").first).to_contain_text("Moved")
    expect(tiles.nth(1)).to_contain_text("IMG_3.jpg")
    expect(tiles.nth(2)).to_contain_text("IMG_2.jpg")
    tiles.filter(has_text="IMG_3.jpg").get_by_role("button", name="Move later").click()
    expect(tiles.nth(2)).to_contain_text("IMG_3.jpg")
    # Drag and drop: IMG_5 dropped on the left half of the first tile
    # goes first, and stays there after a reload.
    first = tiles.nth(0)
    height = first.bounding_box()["height"]
    tiles.filter(has_text="IMG_5.jpg").drag_to(first, target_position={"x": 4, "y": height / 2})
    expect(ph.locator("#order-live")).to_contain_text("Moved IMG_5.jpg before IMG_1.jpg")
    expect(tiles.nth(0)).to_contain_text("IMG_5.jpg")
    ph.reload()
    expect(tiles.nth(0)).to_contain_text("IMG_5.jpg")
    expect(tiles.nth(1)).to_contain_text("IMG_1.jpg")
    tiles.filter(has_text="IMG_4.jpg").get_by_role("button", name="Use as cover").click()
    expect(tiles.filter(has_text="IMG_4.jpg")).to_contain_text("Cover")
    publish(ph)


def test_settings_carry_the_brand_and_the_logo_watermarks_an_album(photographer, published, tmp, base):
    ph, album = photographer.page, published
    # The watermark: upload a logo in the studio, pick it with a place,
    # size and opacity, see it drawn on a photo before saving, save.
    logo = tmp / "logo.png"
    logo_png(logo)
    # The studio's brand lives in Settings, with the logo.
    ph.get_by_role("link", name="Settings").click()
    expect(ph.get_by_role("heading", level=1)).to_have_text("Settings")
    ph.get_by_role("textbox", name="Studio name").fill("Studio Nord")
    ph.get_by_role("textbox", name="Website").fill("https://nord.test")
    ph.get_by_role("textbox", name="Contact email").fill(f"hello-{RUN}@nord.test")
    ph.get_by_role("combobox", name="Time zone").select_option("Europe/Stockholm")
    ph.get_by_role("button", name="Save settings").click()
    expect(ph.get_by_role("status").first).to_contain_text("Saved")
    expect(ph.get_by_role("combobox", name="Time zone")).to_have_value("Europe/Stockholm")
    ph.get_by_label("Logo (PNG)").set_input_files(str(logo))
    expect(ph.get_by_role("img", name="Your current logo")).to_be_visible(timeout=15_000)
    check_page(ph, "settings")
    ph.goto(f"{base}/albums/{album.id}")
    kind = ph.get_by_role("combobox", name="Watermark", exact=True)
    kind.select_option(label="My logo")
    ph.get_by_role("combobox", name="Logo position").select_option(label="Bottom right")
    ph.get_by_role("spinbutton", name="Logo size (% of photo width)").fill("30")
    ph.get_by_role("spinbutton", name="Logo opacity (%)").fill("70")
    preview = ph.get_by_role("img", name="Preview of the watermark on a photo of this album")
    # The preview follows the form: it shows the last choice made.
    expect(preview).to_have_attribute("data-choice", re.compile(r'"kind":"logo".*"scale":0\.3,"opacity":0\.7'),
                                      timeout=15_000)
    expect(ph.locator("#wm-preview-status")).to_contain_text("not saved yet")
    expect(preview).to_be_visible()
    natural = preview.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural[0] > 0 and natural[1] > 0, natural
    preview.screenshot(path=str(SHOTS / "watermark-preview.png"))
    check_page(ph, "studio-watermark")
    ph.get_by_role("button", name="Save changes").click()
    expect(ph.get_by_role("status").first).to_contain_text("Saved")
    expect(ph.get_by_role("combobox", name="Watermark", exact=True)).to_have_value("logo")
    expect(ph.get_by_role("spinbutton", name="Logo size (% of photo width)")).to_have_value("30")
    ph.goto(f"{base}/albums")
    expect(ph.get_by_role("row").filter(has_text="Wedding of Kim & Lou")).to_contain_text("5")
    check_page(ph, "albums-photographer")


def test_forms_refuse_cross_site_posts(photographer, base):
    # A cross-site POST without the CSRF token changes nothing.
    r = photographer.context.request.post(f"{base}/albums", form={"name": "Forged", "price": "1", "currency": "EUR"},
                            headers={"origin": "https://evil.test"})
    assert r.status == 403, f"CSRF-less POST answered {r.status}"
    r = photographer.context.request.post(f"{base}/api/v1/albums", data=json.dumps({"name": "Forged", "visibility": "public",
                            "price_per_photo": {"amount": 1, "currency": "EUR"}}),
                            headers={"content-type": "application/json"})
    assert r.status == 401, f"cookie without X-CSRF-Token on the API answered {r.status}"


def test_the_invitation_opens_the_gallery_in_one_page_load(browser, mail, published):
    album = published
    # One click: the invitation's link opens the gallery signed in as
    # the client, their account made on the way, named as typed.
    subject, body = mail.wait(album.client, "shared")
    link = re.search(r"https?://[^\s\"<>]+/invitations/[A-Za-z0-9_-]+", body).group(0)
    ctx = browser.new_context()
    cl = ctx.new_page()
    loads = []
    cl.on("load", lambda _: loads.append(cl.url))
    cl.goto(link)
    expect(cl).to_have_url(re.compile(rf"/albums/{album.id}$"))
    assert len(loads) == 1, f"one page load from the mail to the gallery: {loads}"
    expect(cl.get_by_role("banner")).to_contain_text("Kim")
    ctx.close()


def test_a_mailed_sign_in_link_signs_in(browser, base, mail, published):
    album = published
    # A sign-in link by mail works too (another browser of the client's).
    link_ctx = browser.new_context()
    other = link_ctx.new_page()
    other.goto(f"{base}/signin?next=/albums/{album.id}")
    other.get_by_role("textbox", name="Email").fill(album.client)
    other.get_by_role("button", name="Email me a sign-in link").click()
    expect(other.get_by_role("status")).to_contain_text("link is on its way")
    _, body = mail.wait(album.client, "sign-in link")
    signin_link = re.search(r"https?://\S+/signin/link\?\S+", body).group(0)
    other.goto(signin_link)
    check_page(other, "signin-link")
    other.get_by_role("button", name="Sign in").click()
    expect(other).to_have_url(re.compile(rf"/albums/{album.id}$"))
    link_ctx.close()


def test_the_gallery_shows_every_photo_whole_and_works_by_keyboard(client, published, base):
    cl, album = client.page, published
    cl.goto(f"{base}/albums/{album.id}")
    expect(cl.get_by_role("heading", level=1)).to_have_text("Wedding of Kim & Lou")
    items = cl.get_by_role("list").filter(has=cl.get_by_role("button", name="Select")).get_by_role("listitem")
    expect(items).to_have_count(5)
    for i in range(5):
        expect(items.nth(i).get_by_role("img")).not_to_have_attribute("alt", "")
    # Justified rows: every thumbnail is shown whole, its rendered
    # aspect ratio within 3 % of the photo's.
    cl.wait_for_function(
        "Array.from(document.querySelectorAll('#gallery > li img')).every(i => i.complete && i.naturalWidth > 0)"
    )
    ratios = cl.evaluate(
        "Array.from(document.querySelectorAll('#gallery > li img')).map(i => {"
        " const r = i.getBoundingClientRect(); return [r.width / r.height, i.naturalWidth / i.naturalHeight]; })"
    )
    assert len(ratios) == 5 and len({round(real, 1) for _, real in ratios}) >= 4, ratios
    for shown, real in ratios:
        assert abs(shown / real - 1) < 0.03, f"a thumbnail shown at {shown:.3f} for a photo of {real:.3f}"
    # The keyboard: one photo's controls are Tab stops (fewer than three
    # per photo over the gallery), the arrow keys move between photos.
    first_thumb = items.nth(0).get_by_role("button", name=re.compile("^Open "))
    first_thumb.focus()
    stops = []
    for _ in range(4):
        cl.keyboard.press("Tab")
        stops.append(cl.evaluate("document.activeElement.closest('#gallery') ? document.activeElement.getAttribute('aria-label') : null"))
    assert stops[:2] == ["Select", "Favourite"] and stops[2] is None, f"Tab stops after the first thumbnail: {stops}"
    first_thumb.focus()
    cl.keyboard.press("ArrowRight")
    expect(items.nth(1).get_by_role("button", name=re.compile("^Open "))).to_be_focused()
    cl.keyboard.press("Home")
    expect(first_thumb).to_be_focused()
    # The cover: the album's name as the page's heading over a photo,
    # with the studio's name.
    expect(cl.get_by_role("heading", level=1)).to_have_text("Wedding of Kim & Lou")
    expect(cl.locator(".cover-text")).to_contain_text("Studio Nord")
    # The lightbox: open, move with the arrows, close, focus returns.
    items.nth(0).get_by_role("button", name=re.compile("^Open ")).click()
    dialog = cl.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("1 of 5")
    cl.keyboard.press("ArrowRight")
    expect(dialog).to_contain_text("2 of 5")
    cl.keyboard.press("ArrowRight")
    expect(dialog).to_contain_text("3 of 5")
    cl.keyboard.press("ArrowLeft")
    expect(dialog).to_contain_text("2 of 5")
    check_page(cl, "lightbox")
    # The dialog's Favourite is the photo's: pressing it marks the tile too.
    lb_fav = dialog.get_by_role("button", name="Favourite")
    lb_fav.click()
    expect(lb_fav).to_have_attribute("aria-pressed", "true")
    expect(items.nth(1).get_by_role("button", name="Favourite")).to_have_attribute("aria-pressed", "true")
    lb_fav.click()
    expect(lb_fav).to_have_attribute("aria-pressed", "false")
    expect(items.nth(1).get_by_role("button", name="Favourite")).to_have_attribute("aria-pressed", "false")
    cl.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    focused = cl.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused and focused.startswith("Open IMG_"), f"focus went back to the thumbnail: {focused}"


@pytest.fixture(scope="module")
def purchase(client, published, base):
    """Kim favourites two photos, selects three, reviews the cart (one out,
    one back), and pays at the test gateway."""
    cl, album = client.page, published
    cl.goto(f"{base}/albums/{album.id}")
    items = cl.get_by_role("list").filter(has=cl.get_by_role("button", name="Select")).get_by_role("listitem")
    # Select three, favourite two.
    for i in (0, 2, 4):
        b = items.nth(i).get_by_role("button", name="Select")
        b.click()
        expect(b).to_have_attribute("aria-pressed", "true")
    expect(cl.get_by_role("status").filter(has_text="selected")).to_have_text("3 selected · €15.00")
    for i in (1, 2):
        f = items.nth(i).get_by_role("button", name="Favourite")
        f.click()
        expect(f).to_have_attribute("aria-pressed", "true")
    # All / Favourites / Selected narrow the rows.
    shows = cl.get_by_role("group", name="Show")
    for name, count in (("Selected", 3), ("Favourites", 2), ("All", 5)):
        b = shows.get_by_role("button", name=name, exact=True)
        b.click()
        expect(b).to_have_attribute("aria-pressed", "true")
        expect(cl.locator("#gallery > li:visible")).to_have_count(count)
    check_page(cl, "gallery")
    # Uploads run side by side, so the gallery's order is the order
    # they were stored in: names come from the page, not the test.
    faved = [items.nth(i).get_by_role("img").get_attribute("alt") for i in (1, 2)]
    chosen = sorted(items.nth(i).get_by_role("img").get_attribute("alt") for i in (0, 2, 4))
    # The cart: what will be bought, at what price; "Remove" takes one
    # out (and out of the gallery's selection too).
    cl.get_by_role("button", name="Checkout").click()
    expect(cl).to_have_url(re.compile(rf"/albums/{album.id}/cart\?"))
    cart = cl.get_by_role("list", name="Selected photos").get_by_role("listitem")
    expect(cart).to_have_count(3)
    expect(cl.locator("#cart-total")).to_have_text("€15.00")
    check_page(cl, "cart")
    cart.nth(2).get_by_role("button", name="Remove").click()
    expect(cart).to_have_count(2)
    expect(cl.locator("#cart-total")).to_have_text("€10.00")
    cl.get_by_role("link", name="Back to the gallery").click()
    expect(cl.get_by_role("status").filter(has_text="selected")).to_have_text("2 selected · €10.00")
    items.nth(4).get_by_role("button", name="Select").click()
    expect(cl.get_by_role("status").filter(has_text="selected")).to_have_text("3 selected · €15.00")
    cl.get_by_role("button", name="Checkout").click()
    expect(cart).to_have_count(3)
    cl.get_by_role("button", name="Pay now").click()
    expect(cl.get_by_role("heading", level=1)).to_have_text("Test payment")
    expect(cl.get_by_text("€15.00")).to_be_visible()
    check_page(cl, "test-gateway")
    cl.get_by_role("button", name="Pay").click()
    expect(cl).to_have_url(re.compile(r"/orders/[0-9a-f-]+\?payment=done"))
    return {"chosen": chosen, "faved": faved, "order_url": cl.url}


def test_a_purchase_delivers_the_originals(purchase, client, published, base):
    cl, album, chosen = client.page, published, purchase["chosen"]
    cl.goto(purchase["order_url"])
    download = cl.get_by_role("link", name="Download all")
    expect(download).to_be_visible(timeout=60_000)
    expect(cl.locator("p.download time")).to_have_count(1)
    # One "Download" per photo, beside its thumbnail.
    bought = cl.get_by_role("listitem").filter(has=cl.get_by_role("link", name="Download", exact=True))
    expect(bought).to_have_count(3)
    one = bought.nth(0)
    one_name = one.get_by_role("img").get_attribute("alt")
    single = client.context.request.get(one.get_by_role("link", name="Download", exact=True).get_attribute("href"))
    assert single.status == 200 and single.body() == album.originals[one_name], (single.status, one_name)
    check_page(cl, "order")
    href = download.get_attribute("href")
    zipped = client.context.request.get(href)
    assert zipped.status == 200, zipped.status
    assert 'filename="Wedding of Kim _ Lou.zip"' in zipped.headers.get("content-disposition", ""), zipped.headers
    z = zipfile.ZipFile(io.BytesIO(zipped.body()))
    names = sorted(z.namelist())
    assert [n.split("/")[-1] for n in names] == chosen, (names, chosen)
    for n in names:
        assert z.read(n) == album.originals[n.split("/")[-1]], f"{n} is the original byte for byte"
    cl.goto(f"{base}/orders")
    check_page(cl, "orders-client")
    cl.goto(f"{base}/albums")
    check_page(cl, "albums-client")


@pytest.fixture(scope="module")
def declined(purchase, client, published, base):
    """Kim tries to buy one more photo and the test gateway declines."""
    cl, album = client.page, published
    items = cl.get_by_role("list").filter(has=cl.get_by_role("button", name="Select")).get_by_role("listitem")
    # A declined payment.
    cl.goto(f"{base}/albums/{album.id}")
    items.nth(1).get_by_role("button", name="Select").click()
    expect(cl.get_by_role("status").filter(has_text="selected")).to_have_text("1 selected · €5.00")
    cl.get_by_role("button", name="Checkout").click()
    cl.get_by_role("button", name="Pay now").click()
    cl.get_by_role("button", name="Decline").click()
    expect(cl).to_have_url(re.compile(r"payment=declined"))
    expect(cl.get_by_role("alert")).to_contain_text("did not go through")
    return cl.url


def test_a_declined_payment_charges_nothing(declined, client):
    cl = client.page
    cl.goto(declined)
    expect(cl.locator("#order-status")).to_have_text("Cancelled")
    assert cl.get_by_role("link", name=re.compile("^Download")).count() == 0


def test_the_photographer_sees_favourites_orders_and_sales(purchase, declined, photographer, published, base):
    ph, album, faved = photographer.page, published, purchase["faved"]
    # ---- the photographer sees favourites and the sale ----
    ph.goto(f"{base}/albums/{album.id}")
    fav = ph.get_by_role("region", name="Favourites")
    expect(fav).to_contain_text(album.client)
    for name in faved:
        expect(fav).to_contain_text(name)
    # The album's orders: the sale and the declined one, newest first.
    orders = ph.get_by_role("region", name="Orders").get_by_role("listitem")
    expect(orders).to_have_count(2)
    expect(orders.nth(0)).to_contain_text("Cancelled")
    expect(orders.nth(1)).to_contain_text("€15.00")
    ph.goto(f"{base}/sales")
    expect(ph.get_by_role("main")).to_contain_text("€15.00")
    expect(ph.get_by_role("img", name=re.compile("Revenue per month"))).to_be_visible()
    # At 375 px the chart's month labels and the table stay readable:
    # labels at least 9 px tall, the table's last column not cut off.
    ph.set_viewport_size({"width": 375, "height": 900})
    ph.wait_for_timeout(150)
    label_px = ph.evaluate("Math.min(...Array.from(document.querySelectorAll('svg.chart .label')).map(t => t.getBoundingClientRect().height))")
    why = ph.evaluate("(() => { const t = document.querySelector('svg.chart .label'); return [getComputedStyle(t).fontSize, document.querySelector('svg.chart').getBoundingClientRect().width, window.innerWidth, document.querySelectorAll('svg.chart .label').length]; })()")
    assert label_px >= 9, f"chart labels {label_px:.1f}px tall at 375 px ({why})"
    cut = ph.evaluate("(() => { const t = document.querySelector('main table'); return t.scrollWidth - t.parentElement.clientWidth; })()")
    assert cut <= 0, f"the sales table is {cut}px wider than its box at 375 px"
    check_page(ph, "sales")
    csv = photographer.context.request.get(base + ph.get_by_role("link", name="Download CSV").get_attribute("href"))
    assert csv.status == 200 and ",15.00" in csv.text(), csv.text()
    ph.goto(f"{base}/orders")
    check_page(ph, "orders-photographer")


def test_a_visitor_registers_at_checkout_and_keeps_the_selection(photographer, browser, base, mail, tmp):
    ph = photographer.page
    # ---- a public album's visitor registers at checkout, keeping the selection ----
    public = create_album(ph, base, "Open day", None, visibility="Public")
    upload(ph, tmp, ["PUB_1.jpg", "PUB_2.jpg"])
    publish(ph)
    vis_ctx = browser.new_context()
    vis = vis_ctx.new_page()
    vis.goto(f"{base}/albums/{public}")
    grid = vis.get_by_role("list").filter(has=vis.get_by_role("button", name="Select")).get_by_role("listitem")
    expect(grid).to_have_count(2)
    for i in (0, 1):
        grid.nth(i).get_by_role("button", name="Select").click()
    expect(vis.get_by_role("status").filter(has_text="selected")).to_have_text("2 selected · €10.00")
    vis.get_by_role("button", name="Checkout").click()
    expect(vis.get_by_role("list", name="Selected photos").get_by_role("listitem")).to_have_count(2)
    vis.get_by_role("button", name="Pay now").click()
    expect(vis).to_have_url(re.compile(r"/signin\?next="))
    expect(vis.get_by_text("To buy your selection")).to_be_visible()
    vis.get_by_role("link", name="Create account").last.click()
    # Reached on the way to paying, the form has the client role chosen.
    expect(vis.get_by_role("radio", name="Client")).to_be_checked()
    register(vis, mail, "Vic", "Tor", f"vis-{RUN}@home.test", "Client")
    # Back to the same cart.
    expect(vis).to_have_url(re.compile(rf"/albums/{public}/cart\?photo="))
    expect(vis.get_by_role("list", name="Selected photos").get_by_role("listitem")).to_have_count(2)
    vis.get_by_role("button", name="Pay now").click()
    expect(vis.get_by_role("heading", level=1)).to_have_text("Test payment")
    expect(vis.get_by_text("€10.00")).to_be_visible()


def test_find_me_finds_a_guest_in_the_album(photographer, browser, base, tmp):
    ph = photographer.page
    if "faces" not in os.environ.get("PROOFSHEET_FEATURES", ""):
        pytest.skip("the server is built without its `faces` feature (PROOFSHEET_FEATURES)")
    faces = os.environ.get("PROOFSHEET_TEST_FACES_IMAGES")
    if not (faces and os.environ.get("PROOFSHEET_FACES_MODELS_DIR")):
        pytest.fail("the server has `faces` but PROOFSHEET_TEST_FACES_IMAGES / PROOFSHEET_FACES_MODELS_DIR "
                    "are unset (scripts/faces-models.sh sets them)", pytrace=False)
    gala = create_album(ph, base, "Gala night", None, visibility="Public")
    box = ph.get_by_role("checkbox", name=re.compile(r"^Find me"))
    expect(box).to_be_enabled()
    box.check()
    ph.get_by_role("button", name="Save changes").click()
    expect(ph.get_by_role("status").first).to_contain_text("Saved")
    expect(ph.get_by_role("checkbox", name=re.compile(r"^Find me"))).to_be_checked()
    shots = ["obama.jpg", "biden.jpg", "obama2.jpg"]
    ph.get_by_label("Add photos").set_input_files([str(Path(faces) / n) for n in shots])
    for n in shots:
        expect(ph.get_by_role("listitem").filter(has_text=n)).to_contain_text("Ready", timeout=60_000)
    # The studio says how far indexing has come.
    for _ in range(60):
        ph.reload()
        if "3 of 3 ready photos indexed" in (ph.locator("#findme-progress").text_content() or ""):
            break
        time.sleep(0.5)
    expect(ph.locator("#findme-progress")).to_contain_text("3 of 3 ready photos indexed, 3 faces found.")
    check_page(ph, "studio-find-me")
    publish(ph)
    guest_ctx = browser.new_context()
    guest = guest_ctx.new_page()
    guest.goto(f"{base}/albums/{gala}")
    expect(guest.get_by_role("heading", name="Find yourself in this album")).to_be_visible()
    grid = guest.get_by_role("list").filter(has=guest.get_by_role("button", name="Select")).get_by_role("listitem")
    expect(grid).to_have_count(3)
    expect(guest.get_by_role("button", name="Select all matches")).to_be_hidden()
    expect(guest.get_by_role("button", name="Show all photos")).to_be_hidden()
    check_page(guest, "gallery-find-me")
    # Indexing runs after the previews: search until it has caught up.
    found = guest.locator("#findme-status")
    for _ in range(60):
        with guest.expect_file_chooser() as chooser:
            guest.get_by_role("button", name="Find me").click()
        chooser.value.set_files(str(Path(faces) / "obama3.jpg"))
        expect(found).not_to_contain_text("Looking for you", timeout=30_000)
        if "Found you in 2 photos" in found.text_content():
            break
        time.sleep(0.5)
    expect(found).to_have_text("Found you in 2 photos.")
    expect(grid).to_have_count(2)
    names = sorted(grid.nth(i).get_by_role("img").get_attribute("alt") for i in range(2))
    assert names == ["obama.jpg", "obama2.jpg"], names
    check_page(guest, "gallery-find-me-results")
    guest.get_by_role("button", name="Select all matches").click()
    expect(guest.get_by_role("status").filter(has_text="selected")).to_have_text("2 selected · €10.00")
    # A selfie with no face says so.
    with guest.expect_file_chooser() as chooser:
        guest.get_by_role("button", name="Find me").click()
    blank = tmp / "blank.jpg"
    blank.write_bytes(jpeg(9))
    chooser.value.set_files(str(blank))
    expect(found).to_contain_text("no face was found", timeout=30_000)
    guest.get_by_role("button", name="Show all photos").click()
    expect(grid).to_have_count(3)
    guest.get_by_role("link", name="How “Find me” works").click()
    expect(guest.get_by_role("heading", level=1)).to_have_text("How “Find me” works")
    expect(guest.get_by_role("main")).to_contain_text("never written to disk")
    check_page(guest, "find-me-privacy")


def test_sign_out(photographer, base):
    ph = photographer.page
    ph.goto(f"{base}/albums")
    # Sign out.
    ph.get_by_role("button", name="Sign out").click()
    expect(ph).to_have_url(re.compile(r"/$"))
    expect(ph.get_by_role("link", name="Sign in")).to_be_visible()
