"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright).

Run by tests/python_sdk/dashboard.rs against a gateway whose OpenAI upstream is mocked. Needs
TOLLGATE_BASE_URL, OWNER_TOKEN, DEVELOPER_TOKEN, ORG_NAME and SCREENSHOTS (a folder). Walks what
a new user does: sign in, create a project, turn caching on, create a key with a limit and see
its token once, rotate it, add an IAM rule and a provider key, chat in the playground, find the
answer in usage analytics and the logs, the project's creation in the audit trail and the
project as it was before a change; then checks that a developer cannot delete a project, that
a form posted from another site is refused, and that no page had a JavaScript error.
Exits 0 only if every step passes.
"""

import datetime
import http.server
import os
import re
import sys
import threading
import time

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["TOLLGATE_BASE_URL"]
OWNER = os.environ["OWNER_TOKEN"]
DEVELOPER = os.environ["DEVELOPER_TOKEN"]
ORG_NAME = os.environ["ORG_NAME"]
SHOTS = os.environ["SCREENSHOTS"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--no-first-run", "--disable-quic", "--disable-component-update", "--disable-sync"]
STREAMED = "Hello from the stream"

errors = []


def watch(page):
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(page, token):
    page.goto(BASE + "/")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.get_by_label("Management token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ORG_NAME)


def step(name):
    print(f"step {name}", flush=True)


def attacker(project_id):
    """A page of another origin whose form deletes the project when it loads."""
    html = f"""<!doctype html><html><body>
<form id="f" method="post" action="{BASE}/projects/{project_id}/delete">
<input type="hidden" name="_csrf" value="guessed"><input type="hidden" name="organization_id" value="x">
</form><script>document.getElementById("f").submit()</script></body></html>""".encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        owner = browser.new_context(viewport={"width": 1280, "height": 860})
        page = owner.new_page()
        watch(page)

        step("sign in")
        sign_in(page, OWNER)
        shot(page, "organization")

        step("create a project")
        page.get_by_label("Name", exact=True).fill("Web shop")
        page.get_by_label("Description").fill("The storefront's assistant")
        page.get_by_label(re.compile("^Mode")).select_option("credits")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Web shop")
        project_id = page.url.rstrip("/").split("/")[-1]
        time.sleep(1.5)
        before = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        time.sleep(1.5)

        step("turn caching on")
        page.get_by_label("Cache answers").check()
        page.get_by_label(re.compile("^Cache duration")).fill("600")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text("Settings saved.")).to_be_visible()
        expect(page.get_by_label("Cache answers")).to_be_checked()

        step("create a key with a limit; its token shown once")
        page.get_by_label("Key description").fill("Checkout service")
        page.get_by_label(re.compile("^Usage limit")).fill("5")
        page.get_by_role("button", name="Create key").click()
        token = page.locator("#secret").inner_text().strip()
        assert len(token) > 20, token
        expect(page.get_by_role("button", name="Copy")).to_be_visible()
        shot(page, "project")
        page.reload()
        expect(page.locator("#secret")).to_have_count(0)
        assert token not in page.content(), "the token came back after a reload"
        expect(page.get_by_role("cell", name="$5.00")).to_be_visible()

        step("rotate it")
        page.get_by_role("link", name="Checkout service").click()
        page.get_by_role("button", name="Rotate").click()
        expect(page.get_by_text("Key rotated.")).to_be_visible()
        rotated = page.locator("#secret").inner_text().strip()
        assert rotated != token and len(rotated) > 20, (token, rotated)

        step("add an IAM rule")
        page.get_by_label("Rule type").select_option("allow_models")
        page.get_by_label(re.compile("^Models or providers")).fill("gpt-4o-mini, gpt-4o")
        page.get_by_role("button", name="Add rule").click()
        expect(page.get_by_text("IAM rules saved.")).to_be_visible()
        expect(page.get_by_role("cell", name="allow_models")).to_be_visible()
        shot(page, "key")

        step("budgets, rate limits and expiry")
        page.get_by_label("Period budget (USD)").fill("2")
        page.get_by_label("Period", exact=True).select_option("day")
        page.get_by_label("Requests per minute").fill("30")
        page.get_by_role("button", name="Save limits").click()
        expect(page.get_by_text("Limits saved.")).to_be_visible()
        expect(page.get_by_label("Requests per minute")).to_have_value("30")
        expect(page.get_by_label("Period budget (USD)")).to_have_value("2")

        step("add a provider key")
        page.get_by_role("link", name="← Project").click()
        page.get_by_label(re.compile("^Provider")).select_option("openai")
        page.get_by_label("API key", exact=True).fill("sk-test-provider-key-123456")
        page.get_by_role("button", name="Add provider key").click()
        expect(page.get_by_text("Provider key added.")).to_be_visible()
        expect(page.get_by_role("cell", name="active").first).to_be_visible()
        assert "sk-test-provider-key-123456" not in page.content(), "the provider key was shown in the clear"

        step("spend alerts")
        page.get_by_role("link", name="Projects").first.click()
        page.get_by_role("link", name="Spend alerts (webhooks)").click()
        page.get_by_label("URL").fill("http://127.0.0.1:9/alerts")
        page.get_by_role("button", name="Add webhook").click()
        expect(page.get_by_text("Webhook added.")).to_be_visible()
        assert len(page.locator("#secret").inner_text().strip()) > 16
        expect(page.get_by_role("cell", name="http://127.0.0.1:9/alerts")).to_be_visible()

        step("playground: a message streams back")
        page.get_by_role("link", name="Playground").first.click()
        expect(page.get_by_label("Project")).to_have_value(project_id)
        expect(page.locator("#pg-model-a option[value='gpt-4o-mini']")).to_have_count(1)
        page.get_by_label(re.compile("^First model")).select_option("gpt-4o-mini")
        page.get_by_label("System prompt").fill("Be brief.")
        page.get_by_label("Message").fill("Say hello")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#chat-a .msg.assistant")).to_have_text(STREAMED)
        meta = page.locator("#chat-a .meta")
        expect(meta).to_contain_text("via openai")
        expect(meta).to_contain_text("first token")
        expect(meta).to_contain_text("cost $")
        page.get_by_label(re.compile("^Second model")).select_option("gpt-4o")
        page.get_by_label("Message").fill("And again, side by side")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#chat-b .msg.assistant")).to_have_text(STREAMED)
        expect(page.locator("#chat-a .msg.assistant")).to_have_count(2)
        expect(page.locator("#chat-b .meta")).to_contain_text("gpt-4o via openai")
        shot(page, "playground")

        step("usage analytics and logs")
        page.goto(f"{BASE}/projects/{project_id}/usage")
        expect(page.locator("#chart canvas").first).to_be_visible()
        logs = page.get_by_role("table", name="Usage logs")
        expect(logs.get_by_role("cell", name="gpt-4o-mini").first).to_be_visible()
        shot(page, "usage")
        logs.get_by_role("link").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Request")
        expect(page.locator("pre")).to_contain_text("\"model\": \"gpt-4o")

        step("audit trail and time travel")
        page.goto(f"{BASE}/audit")
        expect(page.get_by_role("cell", name="ProjectCreated").first).to_be_visible()
        shot(page, "audit")
        page.goto(f"{BASE}/projects/{project_id}/as-of")
        page.get_by_label(re.compile("as it was at")).fill(before)
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#then")).to_contain_text('"caching_enabled": false')
        expect(page.locator("#now")).to_contain_text('"caching_enabled": true')
        shot(page, "time-travel")

        step("API reference")
        page.goto(f"{BASE}/api-reference")
        expect(page.get_by_text("/api/projects").first).to_be_visible()

        step("a developer cannot delete a project")
        dev = browser.new_context(viewport={"width": 390, "height": 844})
        dpage = dev.new_page()
        watch(dpage)
        sign_in(dpage, DEVELOPER)
        dpage.goto(f"{BASE}/projects/{project_id}")
        expect(dpage.get_by_role("heading", level=1)).to_have_text("Web shop")
        expect(dpage.get_by_role("button", name="Delete project")).to_have_count(0)
        csrf = dpage.locator("input[name=_csrf]").first.get_attribute("value")
        status = dpage.evaluate("""async ([url, csrf]) => {
            const body = new URLSearchParams({_csrf: csrf, organization_id: "x"});
            const r = await fetch(url, {method: "POST", body});
            return r.url;
        }""", [f"{BASE}/projects/{project_id}/delete", csrf])
        assert status.endswith(f"/projects/{project_id}"), status
        dpage.goto(f"{BASE}/projects/{project_id}")
        expect(dpage.get_by_role("heading", level=1)).to_have_text("Web shop")
        shot(dpage, "phone-project")
        dev.close()

        step("a form posted from another site is refused")
        server, url = attacker(project_id)
        evil = owner.new_page()
        with evil.expect_response(lambda r: "/delete" in r.url) as answer:
            evil.goto(url)
        assert answer.value.status == 403, answer.value.status
        evil.close()
        server.shutdown()
        page.goto(f"{BASE}/projects/{project_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Web shop")

        step("sign out")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/sign-in$"))
        page.goto(f"{BASE}/projects/{project_id}")
        expect(page).to_have_url(re.compile(r"/sign-in$"))
        browser.close()

    assert not errors, "JavaScript errors:\n" + "\n".join(errors)
    print("ok   every step", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report the step that failed
        print(f"FAIL {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
