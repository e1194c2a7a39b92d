#!/usr/bin/env python3
"""The web console end to end, in headless Chromium driven by Selenium, against a real collector
on 127.0.0.1 with two enrolled agents in two agencies. The agents tail nginx access logs (SQL
injection, path traversal and attack-tool lines from many addresses: more alerts than one page
holds), take one hostile request through their inbox (script and img markup in the URL and the
user agent) and a compliance scan of this host.

In the browser: sign in through the form, see the overview's charts and the seeded alerts, page
through them, filter by severity, acknowledge one with the keyboard (checked through the API
with a Bearer token), open the hostile alert's detail (its markup shows as text, nothing runs,
no element is added), comment and assign; alert rows name their source, user and destination.
Search events over a fixed window and see what the API (Bearer) answers for the same query: a
field (one seeded address) and a word of the seeded lines, the same hits in the same order, the
same total under a histogram with one bar per bucket that has hits; expand a hit into its dotted
fields, the hostile request's markup among them as text; a bad query shows the collector's
message with a caret at its position; page with the cursor and back; the window selector; the
"events from this source ±1 h" pivot of an alert lands on the search with that query and its
hits. A group made with vigilctl (img markup in its description), one agent moved into it and two
versions pushed: the agents page names each agent's group; the groups page lists the group with its
agent count and version, the description as text; the group's page lists the agent in its status
and both versions in its history, and rolls back to version 1 (two clicks: the API then has
version 3 restoring 1). Then revoke an agent, open the compliance page and its printable report in
a new tab (the session cookie goes with it), switch to Vietnamese (kept across a reload; the
groups page and a group's page too), sign out. No console message reports a Content-Security-Policy
violation. Outside the browser, with Python's HTTPS client: the security headers, content types
and ETags of the console's files, and CSRF: a cookie-authenticated change without the session's
X-CSRF-Token, with a wrong one, or from another origin is refused (403); a Bearer caller needs no
token. Screenshots of each page are kept in
$VIGIL_TEST_ARTIFACTS/console.

Usage: console_e2e.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import calendar
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import time
from urllib.parse import parse_qs, quote, urlencode, urlsplit

# Debian's python3-selenium lives in the system interpreter's dist-packages: run under it when
# the python3 first on PATH (a virtualenv, pyenv) cannot import selenium.
try:
    import selenium  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

from vigil_harness import Harness  # noqa: E402

USER, PASSWORD = "lan", "lan-Console-Secret-01"
AGENCY_A, AGENCY_B = "Sở TTTT Hà Nội", "UBND Quận 1"
XSS_URL = "/search?q=<script>window.__xss=1</script>"
XSS_UA = '<img src=x onerror="window.__xss=2">'
GROUP, GROUP_DESC = "web-front", 'Web front ends <img src=x onerror="window.__xss=3">'
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class Api:
    def __init__(self, h):
        self.h = h
        self.ctx = ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt")

    def call(self, method, path, body=None, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.h.console_port, context=self.ctx, timeout=30)
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data, resp

    def expect(self, status, method, path, body=None, headers=None):
        got, data, resp = self.call(method, path, body, headers)
        if got != status:
            self.h.fail(f"{method} {path} {headers or ''}: expected {status}, got {got}: {data[:300]!r}")
        return data, resp

    def json(self, method, path, token, body=None):
        data, _ = self.expect(200, method, path, body, {"Authorization": "Bearer " + token})
        return json.loads(data)


def clf(t):
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def rfc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def endpoint(ip, port):
    """An address as the console writes it: ip, ip:port, [ipv6]:port."""
    if not ip:
        return ""
    if not port:
        return ip
    return (f"[{ip}]" if ":" in ip else ip) + f":{port}"


def nginx_lines(prefix, count, now):
    """`count` attack lines from distinct addresses, spread over the last ten days (oldest first):
    each raises one alert (SQL injection and path traversal: high; sqlmap's user agent: low)."""
    out = []
    for i in range(count):
        t = now - (count - i) * (10 * 86400 // count)
        ip = f"{prefix}.{i // 200}.{i % 200 + 1}"
        kind = i % 3
        if kind == 0:
            req, ua = "GET /item?id=1%27%20OR%201=1 HTTP/1.1", "Mozilla/5.0"
        elif kind == 1:
            req, ua = "GET /static/../../etc/passwd HTTP/1.1", "curl/7.88.1"
        else:
            req, ua = "GET /index.php HTTP/1.1", "sqlmap/1.7.2#stable (https://sqlmap.org)"
        out.append(f'{ip} - - [{clf(t)}] "{req}" 200 512 "-" "{ua}"\n')
    return out


def drop_inbox(agent_dir, name, lines):
    inbox = f"{agent_dir}/state/inbox"
    os.makedirs(inbox, exist_ok=True)
    with open(f"{inbox}/{name}.tmp", "w") as f:
        f.writelines(lines)
    os.rename(f"{inbox}/{name}.tmp", f"{inbox}/{name}.jsonl")


def make_driver(h):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        h.fail("python3-selenium is missing (packaging/install-deps.sh installs it)")
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(path, os.X_OK):
            h.fail(f"{path} is missing (packaging/install-deps.sh installs chromium and chromium-driver)")
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--lang=en-US", f"--user-data-dir={h.tmp}/chromium", "--hide-scrollbars"):
        opts.add_argument(arg)
    # The collector's certificate comes from its own CA, which this throwaway profile does not trust.
    opts.set_capability("acceptInsecureCerts", True)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service("/usr/bin/chromedriver", log_path=f"{h.tmp}/chromedriver.log")
    return webdriver.Chrome(service=service, options=opts)


def main():
    h = Harness("vigil-console-")
    driver = None
    art = os.path.join(os.environ.get("VIGIL_TEST_ARTIFACTS", f"{h.tmp}/artifacts"), "console")
    try:
        os.makedirs(art, exist_ok=True)
        h.init_collector()
        h.start_collector()
        with open(f"{h.tmp}/c/vigilctl.yaml") as f:
            admin = re.search(r"^token: (\S+)$", f.read(), re.M).group(1)
        api = Api(h)
        r = subprocess.run(h.ctl + ["users", "add", USER, "--role", "admin"], input=PASSWORD + "\n",
                           capture_output=True, text=True)
        if r.returncode != 0:
            h.fail("users add: " + r.stderr)

        # --- two agents in two agencies, alerts and compliance results through them -----------
        agents = {}
        token = h.token
        for name, agency in (("web1", AGENCY_A), ("web2", AGENCY_B)):
            h.token = lambda _agency, level, agency=agency: token(agency, level)
            agents[name] = h.enroll_agent(name, "nginx")
        h.token = token
        now = time.time()
        for (name, (d, log)), prefix, count in zip(agents.items(), ("10.1", "10.2"), (40, 24)):
            with open(log, "a") as f:
                f.writelines(nginx_lines(prefix, count, now))
            scan = [h.agent_bin, "scan", "--policy", f"{h.src}/rules/policies/debian-baseline.yaml", "--level", "2",
                    "--format", "jsonl"]
            if name == "web2":
                os.makedirs(f"{h.tmp}/bare-root", exist_ok=True)
                scan += ["--root", f"{h.tmp}/bare-root"]
            out = subprocess.run(scan, capture_output=True, text=True)
            if out.returncode not in (0, 2) or not out.stdout:
                h.fail("scan: " + out.stderr)
            drop_inbox(d, "scan", out.stdout.splitlines(keepends=True))
        hostile = {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "event": {"kind": "event", "dataset": "nginx.access",
                             "original": f'203.0.113.66 - - [{clf(now)}] "GET {XSS_URL} HTTP/1.1" 200 10 "-" "{XSS_UA}"'},
                   "source": {"ip": "203.0.113.66"}, "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
                   "url": {"original": XSS_URL}, "user_agent": {"original": XSS_UA}}
        drop_inbox(agents["web1"][0], "hostile", [json.dumps(hostile) + "\n"])
        for d, _ in agents.values():
            h.start_agent(d)
        expected = 40 + 24 + 1

        def all_alerts():
            return api.json("GET", "/api/v1/alerts?limit=1000", admin)

        h.wait_for(60, lambda: len(all_alerts()) >= expected, f"{expected} alerts")
        time.sleep(2)  # nothing more is coming
        alerts = all_alerts()
        total = len(alerts)
        if not expected <= total < 100:
            h.fail(f"{total} alerts stored, expected {expected}")
        xss = [a for a in alerts if a["rule_id"] == "VGL-WEB-0004"]
        if len(xss) != 1:
            h.fail(f"the hostile request raised {len(xss)} XSS alerts")
        xss_id = xss[0]["id"]
        evidence = json.dumps(api.json("GET", f"/api/v1/alerts/{xss_id}", admin).get("evidence"))
        if json.dumps(XSS_UA)[1:-1] not in evidence or "<script>window.__xss=1</script>" not in evidence:
            h.fail(f"the XSS alert's evidence lacks the hostile URL or user agent: {evidence}")

        def compliance_in():
            c = api.json("GET", "/api/v1/compliance", admin)
            return len(c) == 2 and all(x["pass"] + x["fail"] + x["error"] > 0 for x in c)

        h.wait_for(60, compliance_in, "compliance results of both agencies")

        # --- the console's files and headers, outside the browser ------------------------------
        page, resp = api.expect(200, "GET", "/")
        for name, want in (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                           ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY")):
            if resp.getheader(name) != want:
                h.fail(f"GET / header {name}: {resp.getheader(name)!r}")
        if not resp.getheader("Content-Type", "").startswith("text/html"):
            h.fail("index content type " + resp.getheader("Content-Type", ""))
        text = page.decode()
        if re.search(r"<script(?![^>]*\bsrc=)", text) or re.search(r"\sstyle=|<style", text):
            h.fail("index.html holds an inline script or style")
        for path, ctype in (("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")):
            body, resp = api.expect(200, "GET", path)
            etag = resp.getheader("ETag")
            if not resp.getheader("Content-Type", "").startswith(ctype) or not etag or not body:
                h.fail(f"{path}: content type {resp.getheader('Content-Type')}, ETag {etag}")
            api.expect(304, "GET", path, headers={"If-None-Match": etag})
        js, _ = api.expect(200, "GET", "/ui/app.js")
        if b"innerHTML" in js or b"insertAdjacentHTML" in js or b"document.write" in js:
            h.fail("app.js writes HTML from strings")
        api.expect(404, "GET", "/ui/nothing.js")
        api.expect(405, "POST", "/ui/app.js", body={})
        _, resp = api.expect(401, "GET", "/api/v1/alerts")
        if resp.getheader("Content-Security-Policy") != CSP or resp.getheader("Cache-Control") != "no-store":
            h.fail("API answers lack the CSP or no-store")

        # --- CSRF: cookie-authenticated changes need the session's token, from this origin -------
        data, resp = api.expect(200, "POST", "/api/v1/login", {"user": USER, "password": PASSWORD})
        login = json.loads(data)
        cookie = f"vigil_session={login['token']}"
        csrf = login.get("csrf_token", "")
        set_cookie = resp.getheader("Set-Cookie", "")
        for part in ("HttpOnly", "Secure", "SameSite=Strict"):
            if part not in set_cookie:
                h.fail(f"session cookie lacks {part}: {set_cookie}")
        if len(csrf) < 32:
            h.fail(f"login gives no CSRF token: {login}")
        got = json.loads(api.expect(200, "GET", "/api/v1/session", headers={"Cookie": cookie})[0])
        if got.get("csrf_token") != csrf or got.get("user") != USER:
            h.fail(f"GET /api/v1/session: {got}")
        target = f"/api/v1/alerts/{alerts[-1]['id']}/comment"
        origin = f"https://127.0.0.1:{h.console_port}"
        api.expect(403, "POST", target, {"text": "no token"}, {"Cookie": cookie})
        api.expect(403, "POST", target, {"text": "wrong token"}, {"Cookie": cookie, "X-CSRF-Token": "0" * len(csrf)})
        api.expect(403, "POST", target, {"text": "other site"},
                   {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "https://evil.example"})
        api.expect(403, "POST", target, {"text": "other site"},
                   {"Cookie": cookie, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"})
        api.expect(403, "POST", "/api/v1/logout", None, {"Cookie": cookie})
        api.expect(403, "POST", "/api/v1/login", {"user": USER, "password": PASSWORD}, {"Origin": "https://evil.example"})
        api.expect(200, "POST", target, {"text": "same origin with the token"},
                   {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": origin, "Sec-Fetch-Site": "same-origin"})
        api.expect(200, "POST", target, {"text": "bearer callers need no token"}, {"Authorization": "Bearer " + admin})
        api.expect(200, "POST", target, {"text": "session as bearer"}, {"Authorization": "Bearer " + login["token"]})
        history = api.json("GET", target.rsplit("/", 1)[0], admin)["history"]
        if [x["value"] for x in history] != ["same origin with the token", "bearer callers need no token",
                                             "session as bearer"]:
            h.fail(f"a refused request changed the alert: {history}")
        api.expect(200, "POST", "/api/v1/logout", None, {"Cookie": cookie, "X-CSRF-Token": csrf})

        # --- the browser -----------------------------------------------------------------------
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.support.ui import Select, WebDriverWait

        driver = make_driver(h)
        base = f"https://127.0.0.1:{h.console_port}"

        def wait(pred, what, secs=20):
            def attempt(_):
                try:
                    return pred()
                except (WebDriverException, AttributeError):  # replaced or not drawn yet: try again
                    return False
            try:
                return WebDriverWait(driver, secs, poll_frequency=0.2).until(attempt)
            except Exception:
                shot("failure")
                h.fail(f"browser: timed out waiting for {what}; page text: {body_text()[:800]}")

        def body_text():
            try:
                return driver.find_element(By.TAG_NAME, "body").text
            except Exception as e:  # noqa: BLE001
                return f"(no body: {e})"

        def find(css):
            found = driver.find_elements(By.CSS_SELECTOR, css)
            return found[0] if found else None

        def shot(name):
            height = driver.execute_script("return Math.max(document.body.scrollHeight, 700)")
            driver.set_window_size(1400, min(int(height) + 40, 4000))
            driver.save_screenshot(f"{art}/{name}.png")
            driver.set_window_size(1400, 1000)

        def keys(*ks):
            ActionChains(driver).send_keys(*ks).perform()

        driver.get(base + "/")
        wait(lambda: find("#login-form"), "the login form")
        shot("login")
        driver.find_element(By.ID, "login-user").send_keys(USER)
        driver.find_element(By.ID, "login-password").send_keys("wrong-password-000" + Keys.ENTER)
        wait(lambda: find("#login-error") and find("#login-error").text, "the failed login's message")
        driver.find_element(By.ID, "login-password").send_keys(PASSWORD + Keys.ENTER)
        wait(lambda: find("#chart-severity") and find("#chart-compliance"), "the overview's charts")
        cookies = {c["name"]: c for c in driver.get_cookies()}
        sc = cookies.get("vigil_session")
        if not sc or not sc.get("httpOnly") or not sc.get("secure") or sc.get("sameSite") != "Strict":
            h.fail(f"the browser's session cookie: {sc}")
        if driver.execute_script("return document.cookie").find("vigil_session") >= 0:
            h.fail("the session cookie is readable by scripts")
        if find("#card-agents .value").text != "2":
            h.fail("overview: agents card shows " + find("#card-agents .value").text)
        bars = driver.execute_script("return document.querySelectorAll('#chart-severity rect').length")
        if bars < 3:
            h.fail(f"overview: the severity chart has {bars} bars")
        shot("overview")

        # Alerts: the first page, then the next.
        driver.find_element(By.ID, "nav-alerts").click()
        rows_css = "#alerts-table tbody tr"
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, rows_css)) == 50, "a first page of 50 alerts")
        text = body_text()
        for want in ("SQL injection attempt in a request", "Path traversal attempt in a request", AGENCY_A, AGENCY_B):
            if want not in text:
                h.fail(f"alerts page lacks {want!r}")
        shot("alerts")
        first_ids = [r.get_attribute("data-id") for r in driver.find_elements(By.CSS_SELECTOR, rows_css)]
        # Each row names the alert's entity: its source address (every seeded alert has one).
        by_id = {str(a["id"]): a for a in all_alerts()}
        for row_id in first_ids:
            a = by_id[row_id]
            cells = {c: find(f"#alert-row-{row_id} .{c}-cell").text for c in ("source", "user", "destination")}
            want = {"source": endpoint(a["source_ip"], a["source_port"]), "user": a["user_name"],
                    "destination": endpoint(a["destination_ip"], a["destination_port"])}
            if cells != want or not a["source_ip"]:
                h.fail(f"alert {row_id}'s row shows {cells}, the API {want}")
        driver.find_element(By.ID, "page-older").click()
        wait(lambda: find("#page-no") and find("#page-no").text == "Page 2", "page 2")
        rest = [r.get_attribute("data-id") for r in driver.find_elements(By.CSS_SELECTOR, rows_css)]
        if len(rest) != total - 50 or set(rest) & set(first_ids):
            h.fail(f"page 2 holds {len(rest)} alerts (expected {total - 50}), or repeats page 1")
        keys("[")
        wait(lambda: find("#page-no") and find("#page-no").text == "Page 1", "back to page 1")

        # Filter: high and above.
        Select(driver.find_element(By.ID, "f-severity")).select_by_value("4")
        driver.find_element(By.ID, "f-apply").click()
        wait(lambda: "severity=4" in driver.current_url and find(rows_css), "the severity filter")
        sevs = {e.text for e in driver.find_elements(By.CSS_SELECTOR, rows_css + " .badge")}
        if sevs != {"high"}:
            h.fail(f"severity filter shows {sevs}")
        driver.find_element(By.ID, "f-reset").click()
        wait(lambda: "severity" not in driver.current_url and len(driver.find_elements(By.CSS_SELECTOR, rows_css)) == 50,
             "the reset filter")

        # Triage with the keyboard: move down one row and acknowledge it.
        wait(lambda: find("tr.selected"), "a selected row")
        keys("j")
        wait(lambda: find("tr.selected") and find("tr.selected").get_attribute("data-id") == first_ids[1],
             "j to select the second alert")
        keys("a")
        acked = first_ids[1]
        wait(lambda: "acknowledged" in find(f"#alert-row-{acked} .status-cell").text, "the row's new status")
        got = api.json("GET", f"/api/v1/alerts/{acked}", admin)
        if got["status"] != "acknowledged" or got["history"][-1]["who"] != USER:
            h.fail(f"alert {acked} after the keyboard acknowledgement: {got['status']}, {got['history']}")

        # The hostile alert's detail: its markup is text.
        driver.get(f"{base}/#/alerts?rule=VGL-WEB-0004")
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, rows_css)) == 1, "the XSS alert alone")
        keys(Keys.ENTER)
        wait(lambda: find("#evidence-json") and find("#alert-history-empty, #alert-history"), "the alert's detail")
        raw = find("#evidence-json").text  # JSON text: the quotes escaped
        events = find("#evidence-events").text
        for s in ("<script>window.__xss=1</script>", XSS_UA):
            if s not in events or json.dumps(s)[1:-1] not in raw:
                h.fail(f"the evidence does not show {s!r} as text")
        if "VGL-WEB-0004" not in find("#alert-rule").text or "T1190" not in find("#alert-rule").text:
            h.fail("the detail does not show the rule that fired: " + find("#alert-rule").text)
        find("#comment-input").send_keys("<b>checked</b> by the SOC")
        find("#btn-comment").click()
        wait(lambda: find("#alert-history") and "<b>checked</b> by the SOC" in find("#alert-history").text,
             "the comment in the history")
        find("#assign-input").clear()
        find("#assign-input").send_keys("minh")
        find("#btn-assign").click()
        wait(lambda: find("#alert-history") and "minh" in find("#alert-history").text, "the assignment in the history")
        keys("r")
        wait(lambda: "resolved" in find("#alert-status").text, "r to resolve")
        if api.json("GET", f"/api/v1/alerts/{xss_id}", admin)["status"] != "resolved":
            h.fail("r on the detail page did not resolve the alert")
        injected = driver.execute_script(
            "return [typeof window.__xss, document.scripts.length, document.images.length,"
            " document.querySelectorAll('#main script, #main img, #main iframe, #main svg image').length]")
        if injected != ["undefined", 1, 0, 0]:
            h.fail(f"hostile evidence changed the page: [typeof __xss, scripts, images, injected] = {injected}")
        shot("alert-detail")

        # Events: the same searches in the page and through the API (Bearer), over one fixed
        # window that holds the seeded lines of the last six and a half days.
        def search(q, since, until, **more):
            return api.json("GET", "/api/v1/events?" + urlencode(dict(q=q, since=since, until=until, limit=50,
                                                                      histogram=60, **more)), admin)

        def route():
            frag = urlsplit(driver.current_url).fragment
            path, _, query = frag.partition("?")
            return path, {k: v[0] for k, v in parse_qs(query).items()}

        def hit_ids():
            return [r.get_attribute("data-id") for r in driver.find_elements(By.CSS_SELECTOR, "#events-table tr.hit")]

        def shows(q, doc, what):
            """Waits until the page shows `doc`, the API's answer to `q`: the same hits in order,
            the same total under the histogram, one bar per bucket that has hits."""
            ids = [str(x["id"]) for x in doc["hits"]]
            total = str(sum(b["count"] for b in doc["histogram"]["buckets"]))
            bars = sum(1 for b in doc["histogram"]["buckets"] if b["count"])

            def same():
                count = find("#events-count")
                return (route()[1].get("q", "") == q and find("#ev-query").get_attribute("value") == q
                        and hit_ids() == ids and count.get_attribute("data-total") == total
                        and count.get_attribute("data-more") == ("true" if doc["next"] else "false")
                        and len(driver.find_elements(By.CSS_SELECTOR, "#events-histogram rect.hist-bar")) == bars)
            wait(same, f"{what}: {len(ids)} hits, {total} in the histogram, as the API answers")

        def type_query(q):
            box = find("#ev-query")
            box.clear()
            box.send_keys(q + Keys.ENTER)

        w_since, w_until = rfc(now - 6.5 * 86400), rfc(time.time() + 600)
        driver.find_element(By.ID, "nav-events").click()
        wait(lambda: route()[0] == "/events" and find("#ev-query") and find("#events-count, #events-empty"),
             "the events page")
        driver.get(f"{base}/#/events?" + urlencode({"since": w_since, "until": w_until}))
        wait(lambda: find("#ev-window") and find("#ev-window").get_attribute("value") == "custom"
             and route()[1].get("since") == w_since, "the custom window")
        # A field: one seeded address.
        seeded_ip = "10.1.0.34"
        q = f"source.ip:{seeded_ip}"
        type_query(q)
        doc = search(q, w_since, w_until)
        if not doc["hits"] or any(x["event"]["source"]["ip"] != seeded_ip for x in doc["hits"]):
            h.fail(f"the API's search for {q}: {doc['hits']}")
        shows(q, doc, q)
        if route()[1].get("since") != w_since or route()[1].get("until") != w_until:
            h.fail(f"searching lost the window: {driver.current_url}")
        if driver.execute_script("return document.querySelectorAll('#events-histogram rect.hist-bar').length") < 1:
            h.fail("the histogram has no bars")
        # Expand the log line's hit (the alert it raised matches too): its fields by their dotted names.
        line_at = next(i for i, x in enumerate(doc["hits"]) if x["event"]["event"]["kind"] != "alert")
        first = driver.find_elements(By.CSS_SELECTOR, "#events-table tr.hit")[line_at]
        first.click()
        wait(lambda: first.get_attribute("aria-expanded") == "true"
             and len(driver.find_elements(By.CSS_SELECTOR, "tr.hit-detail tr.field-row")) >= 5, "the hit's fields")
        fields = {r.find_element(By.TAG_NAME, "th").text: r.find_element(By.TAG_NAME, "td").text
                  for r in driver.find_elements(By.CSS_SELECTOR, "tr.hit-detail tr.field-row")}
        if fields.get("source.ip") != seeded_ip or "event.original" not in fields or "event.dataset" not in fields:
            h.fail(f"the expanded hit shows {fields}")
        shot("events")
        first.click()
        wait(lambda: not find("tr.hit-detail"), "the hit folded again")

        # Full text: a word of the seeded lines.
        q = "passwd"
        type_query(q)
        doc = search(q, w_since, w_until)
        if sum("passwd" in x["event"].get("event", {}).get("original", "") for x in doc["hits"]) < 5:
            h.fail(f"the API's full-text search for {q} found {len(doc['hits'])} hits")
        shows(q, doc, q)

        # The hostile request's event, expanded: its markup is text.
        q = "source.ip:203.0.113.66 AND NOT event.kind:alert"
        type_query(q)
        shows(q, search(q, w_since, w_until), q)
        find("#events-table tr.hit").click()
        wait(lambda: find("tr.hit-detail") and XSS_UA in find("tr.hit-detail").text
             and "<script>window.__xss=1</script>" in find("tr.hit-detail").text, "the hostile event's fields as text")
        injected = driver.execute_script(
            "return [typeof window.__xss, document.images.length,"
            " document.querySelectorAll('#main script, #main img, #main iframe').length]")
        if injected != ["undefined", 0, 0]:
            h.fail(f"the hostile event changed the page: {injected}")

        # A query the collector cannot read: its message and position under the box.
        bad = f"source.ip:{seeded_ip} AND nosuch.field:x"
        got, data, _ = api.call("GET", "/api/v1/events?" + urlencode({"q": bad}), headers={"Authorization": "Bearer " + admin})
        refusal = json.loads(data)
        if got != 400 or refusal.get("position") != bad.index("nosuch"):
            h.fail(f"the API's answer to a bad query: {got} {refusal}")
        type_query(bad)
        wait(lambda: find("#events-error-text") and find("#events-error-text").text == refusal["error"],
             "the query's error under the box")
        if (find("#events-error-caret mark").text != "n" or str(refusal["position"]) not in find("#events-error-position").text
                or find("#ev-query").get_attribute("aria-invalid") != "true" or find("#events-table")):
            h.fail("the error does not point at its position: " + find("#events-error").text)
        if driver.execute_script("return document.activeElement.id") != "ev-query":
            h.fail("the box does not keep the focus after an error")
        shot("events-error")

        # Paging with the cursor: everything of the last 30 days is more than a page.
        driver.get(f"{base}/#/events?" + urlencode({"since": rfc(now - 30 * 86400), "until": w_until}))
        page1 = search("", rfc(now - 30 * 86400), w_until)
        if not page1["next"] or len(page1["hits"]) != 50:
            h.fail(f"30 days of events fill {len(page1['hits'])} hits, next {page1['next']}")
        shows("", page1, "the first page of 30 days")
        find("#ev-older").click()
        page2 = search("", rfc(now - 30 * 86400), w_until, before=page1["next"])
        shows("", page2, "the second page")
        if find("#ev-page-no").text != "Page 2" or set(hit_ids()) & {str(x["id"]) for x in page1["hits"]}:
            h.fail("the second page repeats the first or is not numbered 2")
        find("#ev-newer").click()
        shows("", page1, "back on the first page")
        # The window selector: the last 7 days.
        Select(find("#ev-window")).select_by_value("7d")
        wait(lambda: route()[1].get("since") == "7d" and "until" not in route()[1] and find("#events-count")
             and int(find("#events-count").get_attribute("data-shown")) > 0, "the last 7 days")

        # The pivot from an alert: the events of its source, one hour either side.
        pivot_alert = next(a for a in all_alerts() if a["source_ip"] == seeded_ip)
        driver.get(f"{base}/#/alerts/{pivot_alert['id']}")
        wait(lambda: find("#pivot-source") and find("#pivot-host"), "the alert's pivots")
        if 'host.name:"' not in find("#pivot-host").get_attribute("href").replace("%22", '"').replace("%3A", ":"):
            h.fail("the host pivot: " + find("#pivot-host").get_attribute("href"))
        find("#pivot-source").click()
        wait(lambda: route()[0] == "/events" and route()[1].get("q") == f"source.ip:{seeded_ip}", "the source pivot")
        p = route()[1]
        at = calendar.timegm(time.strptime(pivot_alert["time"][:19], "%Y-%m-%dT%H:%M:%S"))
        for key, sign in (("since", -1), ("until", 1)):
            t = calendar.timegm(time.strptime(p[key][:19], "%Y-%m-%dT%H:%M:%S"))
            if abs(t - (at + sign * 3600)) > 1:
                h.fail(f"the pivot's {key} {p[key]} is not the alert's time {pivot_alert['time']} {sign:+d} h")
        doc = search(p["q"], p["since"], p["until"])
        if not doc["hits"]:
            h.fail("the source pivot finds nothing")
        shows(p["q"], doc, "the pivot's hits")
        srcs = {r.text for r in driver.find_elements(By.CSS_SELECTOR, "#events-table tr.hit td:nth-child(5)")}
        if srcs != {seeded_ip}:
            h.fail(f"the pivot's hits come from {srcs}")
        shot("events-pivot")

        # A group for web1, made with vigilctl, its description holding markup; two versions pushed.
        def vigilctl(*args):
            r = subprocess.run(h.ctl + list(args), capture_output=True, text=True)
            if r.returncode != 0:
                h.fail(f"vigilctl {' '.join(args)}: exit {r.returncode}: {r.stdout}{r.stderr}")
            return r.stdout

        listed = api.json("GET", "/api/v1/agents", admin)
        web1, web1_host = [(a["id"], a["host"]) for a in listed if a["agency"] == AGENCY_A][0]
        web2 = [a for a in listed if a["agency"] == AGENCY_B][0]["id"]
        vigilctl("groups", "create", GROUP, "--description", GROUP_DESC)
        vigilctl("agents", "set", web1, "--group", GROUP)
        for n in (1, 2):
            bundle = f"{h.tmp}/bundle-{n}"
            os.makedirs(bundle)
            with open(f"{bundle}/console.yaml", "w") as f:
                f.write(f"- id: CONSOLE-TEST-000{n}\n  title: Console bundle test rule {n}\n  severity: low\n"
                        f"  when:\n    message: {{contains: \"CONSOLE-MARKER-{n}\"}}\n")
            vigilctl("groups", "push", GROUP, "--rules", bundle, "--message", f"console test {n}")

        # Agents: each names its group; revoke one (two clicks).
        driver.find_element(By.ID, "nav-agents").click()
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#agents-table tbody tr")) == 2, "two agents")
        shot("agents")
        groups_shown = sorted(e.text for e in driver.find_elements(By.CSS_SELECTOR, "#agents-table a.agent-group"))
        if GROUP not in groups_shown or len(groups_shown) != 2:
            h.fail(f"the agents page names the groups {groups_shown}, expected {GROUP} for web1 and one for web2")
        btn = find(f'button[data-agent="{web2}"]')
        btn.click()
        wait(lambda: "armed" in btn.get_attribute("class"), "the revoke confirmation")
        btn.click()
        wait(lambda: api.json("GET", f"/api/v1/agents/{web2}", admin)["status"] == "revoked", "the revocation")

        # Groups: the list (agent count, version, the description's markup as text), then the group's
        # status (web1) and history, rolled back to version 1 with two clicks.
        listed = {g["name"]: g for g in api.json("GET", "/api/v1/groups", admin)}
        if listed.get(GROUP, {}).get("agents") != 1 or listed[GROUP].get("version") != 2:
            h.fail(f"GET /api/v1/groups: {listed.get(GROUP)}, expected 1 agent and version 2")
        driver.find_element(By.ID, "nav-groups").click()
        group_row = f'#groups-table tr[data-group="{GROUP}"]'
        wait(lambda: find(group_row), "the group on the groups page")
        shown = {c: find(f"{group_row} .group-{c}").text for c in ("description", "agents", "version")}
        if shown != {"description": GROUP_DESC, "agents": "1", "version": "2"}:
            h.fail(f"the groups page shows {shown}")
        injected = driver.execute_script(
            "return [typeof window.__xss, document.images.length,"
            " document.querySelectorAll('#main img, #main script').length]")
        if injected != ["undefined", 0, 0]:
            h.fail(f"the group's description changed the page: {injected}")
        shot("groups")
        find(f"{group_row} a.group-link").click()
        history_rows = "#group-history tbody tr"
        web1_row = f'#group-agents tr[data-agent="{web1}"]'
        wait(lambda: find(web1_row) and len(driver.find_elements(By.CSS_SELECTOR, history_rows)) == 2,
             "the group's status and history")
        if web1_host not in find(web1_row).text or find("#group-summary").get_attribute("data-total") != "1":
            h.fail("the group's status: " + find("#group-agents").text)
        if find("#group-description").text != GROUP_DESC:
            h.fail("the group's page shows its description as " + find("#group-description").text)
        buttons = driver.find_elements(By.CSS_SELECTOR, "#group-history button.rollback")
        if [b.get_attribute("data-version") for b in buttons] != ["1"]:
            h.fail(f"rollback buttons on versions {[b.get_attribute('data-version') for b in buttons]}, expected 1 only")
        shot("group")
        buttons[0].click()
        wait(lambda: "armed" in buttons[0].get_attribute("class"), "the rollback confirmation")
        buttons[0].click()
        restored = '#group-history tr[data-version="3"] .rollback-of'
        wait(lambda: find(restored) and find(restored).text == "rollback of 1", "version 3 restoring 1")
        latest = api.json("GET", f"/api/v1/groups/{GROUP}/history", admin)[0]
        if (latest["version"], latest["rollback_of"], latest["author"]) != (3, 1, USER):
            h.fail(f"after the rollback the group's newest version is {latest}")

        # Compliance.
        driver.find_element(By.ID, "nav-compliance").click()
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "section.agency")) == 2, "both agencies' compliance")
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "a.report-link")]
        if len(links) != 2 or not all("/api/v1/reports/compliance?agency=" in x and "format=html" in x for x in links):
            h.fail(f"report links: {links}")
        if not find(".failing-table") or not find(".controls-table"):
            h.fail("compliance page lacks failing checks or controls")
        shot("compliance")
        # The printable report opens in a new tab with the session cookie (a plain GET).
        console_tab = driver.current_window_handle
        find("a.report-link").click()
        wait(lambda: len(driver.window_handles) == 2, "the report's tab")
        driver.switch_to.window([w for w in driver.window_handles if w != console_tab][0])
        wait(lambda: AGENCY_A in body_text() or AGENCY_B in body_text(), "the printable report")
        shot("compliance-report")
        driver.close()
        driver.switch_to.window(console_tab)

        # Vietnamese, remembered across a reload.
        driver.find_element(By.ID, "lang-toggle").click()
        wait(lambda: find("#nav-alerts") and find("#nav-alerts").text == "Cảnh báo", "Vietnamese labels")
        if find("#nav-events").text != "Sự kiện":
            h.fail("the events page's nav item in Vietnamese: " + find("#nav-events").text)
        # The content too: the catalogue's control titles in TCVN's wording, the checks' own titles.
        wait(lambda: "Kiểm soát truy cập" in body_text(), "the controls' titles in Vietnamese")
        shot("compliance-vi")
        driver.refresh()
        wait(lambda: find("#nav-compliance") and find("#nav-compliance").text == "Tuân thủ", "Vietnamese after reload")
        if driver.execute_script("return localStorage.getItem('vigil.lang')") != "vi":
            h.fail("the language is not kept in localStorage")
        driver.find_element(By.ID, "nav-overview").click()
        wait(lambda: find("#chart-severity") and "Tổng quan" in body_text(), "the overview in Vietnamese")
        shot("overview-vi")
        driver.find_element(By.ID, "nav-alerts").click()
        wait(lambda: find(rows_css) and "Mức độ" in body_text(), "the alerts in Vietnamese")
        # The rules' names in Vietnamese, as the agents' rules give them.
        names_vi = driver.execute_script(
            "return fetch('/api/v1/alerts?limit=20', {credentials: 'same-origin'}).then(r => r.json())"
            ".then(a => a.map(x => x.rule_name_vi || ''))")
        if not names_vi or not all(names_vi):
            h.fail(f"alerts without their rule's Vietnamese name: {names_vi}")
        wait(lambda: names_vi[0] in body_text(), "the alerts' rule names in Vietnamese")
        shot("alerts-vi")
        driver.find_element(By.ID, "nav-events").click()
        wait(lambda: find("#events-count") and "Số sự kiện theo thời gian" in body_text(), "the events in Vietnamese")
        shot("events-vi")
        driver.find_element(By.ID, "nav-groups").click()
        wait(lambda: find(group_row) and find("#groups-title").text == "Nhóm" and find("#nav-groups").text == "Nhóm",
             "the groups page in Vietnamese")
        if not find("#push-hint").text.startswith("Luật và chính sách được đẩy từ tệp"):
            h.fail("the groups page's hint in Vietnamese: " + find("#push-hint").text)
        find(f"{group_row} a.group-link").click()
        wait(lambda: find(restored) and find(restored).text == "khôi phục phiên bản 1"
             and "tác tử đang chạy phiên bản mới nhất" in find("#group-summary").text,
             "the group's page in Vietnamese")
        shot("group-vi")

        # Sign out: the cookie no longer opens anything.
        driver.find_element(By.ID, "logout").click()
        wait(lambda: find("#login-form"), "the login form after signing out")
        status = driver.execute_script(
            "return fetch('/api/v1/session', {credentials: 'same-origin'}).then(r => r.status)")
        if status != 401:
            h.fail(f"after signing out GET /api/v1/session answers {status}")

        # The browser reports every refused fetch: signed out (401), and the bad query's 400.
        expected_refusals = ("401", "Unauthorized", f"/api/v1/events?q={quote(bad, safe='')}&")
        problems = [e["message"] for e in driver.get_log("browser")
                    if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
                    or (e["level"] == "SEVERE" and not any(x in e["message"] for x in expected_refusals))]
        if problems:
            h.fail("browser console: " + " | ".join(problems[:5]))
        print(f"console e2e: login, overview, {total} alerts paged and filtered with their entities, keyboard triage, "
              f"hostile evidence as text, event search (fields, full text, errors, paging, pivots), agents, "
              f"groups (list, status, history, rollback), compliance, Vietnamese, CSRF and headers checked; "
              f"screenshots in {art}")
    finally:
        if driver is not None:
            driver.quit()
        h.close()


if __name__ == "__main__":
    main()
