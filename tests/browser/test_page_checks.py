"""The console and CSP watch that every browser test relies on really sees violations (so a
green run means "no violations", not "nothing was watching")."""

from playwright.sync_api import expect

from .conftest import watch

POLICY = "default-src 'self'; script-src 'self'; style-src 'self'"
PAGE = """<!doctype html><html><head><title>Probe</title></head><body>
<p id="styled" style="color: red">inline style</p>
<script>document.title = "inline script ran";</script>
<button id="boom" onclick="throw new Error('handler ran')">boom</button>
</body></html>"""


def test_watch_reports_inline_script_and_style_blocked_by_the_policy(context):
    page = context.new_page()
    problems = watch(page)
    page.route("http://probe.test/", lambda route: route.fulfill(
        status=200, content_type="text/html", body=PAGE,
        headers={"Content-Security-Policy": POLICY},
    ))
    page.goto("http://probe.test/")
    expect(page).to_have_title("Probe")  # the inline script was refused
    page.locator("#boom").click()  # the inline handler is refused too
    page.wait_for_timeout(200)

    text = "\n".join(problems.problems)
    assert "CSP violation: script-src-elem blocked inline" in text
    assert "CSP violation: style-src-attr blocked inline" in text
    assert "CSP violation: script-src-attr blocked inline" in text
    assert "handler ran" not in text


def test_watch_reports_uncaught_exceptions_and_console_errors(context):
    page = context.new_page()
    problems = watch(page)
    page.route("http://probe.test/", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body="<!doctype html><title>Probe</title><script src='/app.js'></script>",
    ))
    page.route("http://probe.test/app.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript",
        body="console.error('logged problem'); setTimeout(function () { throw new Error('thrown problem'); });",
    ))
    page.goto("http://probe.test/")
    page.wait_for_timeout(200)

    assert any("console error: logged problem" in p for p in problems.problems), problems.problems
    assert any("uncaught exception: " in p and "thrown problem" in p for p in problems.problems), problems.problems
