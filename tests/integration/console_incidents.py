#!/usr/bin/env python3
"""The web console's incidents in headless Chromium, against a real collector on 127.0.0.1 with
one enrolled agent whose nginx log raises alerts: four from the last minutes, one from two days ago.

An analyst signs in, ticks two alerts on the alerts page and opens an incident from them (title
and severity): the console lands on the new incident, which the API holds with both alerts. An
incident opened through the API from the old alert has its first-notification deadline behind it.
The incidents list shows the new one with its alerts, host and agency and a notification deadline
counting down (two reads a second apart differ), the old one flagged overdue in red; the status
filter keeps and drops them. The detail lists both alerts (links to their views) and the timeline;
adding an alert already there shows the collector's 409, adding another one grows the list. The
incident moves open → contained → resolved → reported, each step growing the timeline and
offering only the steps ahead (none at the end); a comment with markup shows as text; assigning;
recording the first notification with a note turns the notification clock to met. The printable
report, fetched with the browser's session and opened from its link, is HTML holding the title.
In Vietnamese the page, its statuses, clock and timeline read in Vietnamese (the list too: the
overdue flag and a countdown). An auditor sees the incident and its report links but no action
and no way to open an incident from alerts. No Content-Security-Policy violation is reported.
Screenshots: /tmp/console-incident-*.png and $VIGIL_TEST_ARTIFACTS/console-incidents.

Usage: console_incidents.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

# Debian's python3-selenium lives in the system interpreter's dist-packages (see console_e2e.py).
try:
    import selenium  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

from console_e2e import Api, clf, make_driver  # noqa: E402
from vigil_harness import Harness  # noqa: E402

AGENCY = "Sở TTTT Đà Nẵng"
ANALYST, AUDITOR = ("thu", "thu-Incident-Secret-01"), ("kiem", "kiem-Audit-Secret-001")
TITLE = "Tấn công SQL vào cổng thông tin điện tử"
COMMENT = "<i>Called</i> the hosting provider & blocked 10.9.0.1"
NOTE = "VNCERT ticket 2026-0142 by phone"
SQLI = "GET /item?id=1%27%20OR%201=1 HTTP/1.1"
TRAVERSAL = "GET /static/../../etc/passwd HTTP/1.1"


def main():
    h = Harness("vigil-incidents-")
    driver = None
    art = os.path.join(os.environ.get("VIGIL_TEST_ARTIFACTS", f"{h.tmp}/artifacts"), "console-incidents")
    try:
        os.makedirs(art, exist_ok=True)
        h.init_collector()
        h.start_collector()
        with open(f"{h.tmp}/c/vigilctl.yaml") as f:
            admin = re.search(r"^token: (\S+)$", f.read(), re.M).group(1)
        api = Api(h)
        for (name, password), role in ((ANALYST, "analyst"), (AUDITOR, "auditor")):
            r = subprocess.run(h.ctl + ["users", "add", name, "--role", role], input=password + "\n",
                               capture_output=True, text=True)
            if r.returncode != 0:
                h.fail("users add: " + r.stderr)

        # --- alerts: four recent (high), one two days old -----------------------------------
        d, log = h.enroll_agent("portal", "nginx", agency=AGENCY)
        now = time.time()
        lines = [(now - 2 * 86400, "10.9.9.9", SQLI)]
        lines += [(now - 240 + 40 * i, f"10.9.0.{i + 1}", (SQLI, TRAVERSAL)[i % 2]) for i in range(4)]
        with open(log, "a") as f:
            for t, ip, req in lines:
                f.write(f'{ip} - - [{clf(t)}] "{req}" 200 512 "-" "Mozilla/5.0"\n')
        h.start_agent(d)

        def all_alerts():
            return api.json("GET", "/api/v1/alerts?limit=100", admin)

        h.wait_for(60, lambda: len(all_alerts()) >= 5, "5 alerts")
        time.sleep(1)
        alerts = all_alerts()
        if len(alerts) != 5:
            h.fail(f"{len(alerts)} alerts stored, expected 5")
        old = [a for a in alerts if a["source_ip"] == "10.9.9.9"]
        recent = sorted((a for a in alerts if a["source_ip"].startswith("10.9.0.")), key=lambda a: a["id"])
        if len(old) != 1 or len(recent) != 4 or any(a["severity"] != 4 for a in recent):
            h.fail(f"the seeded alerts: {[(a['id'], a['source_ip'], a['severity']) for a in alerts]}")
        a1, a2, a3 = recent[0]["id"], recent[1]["id"], recent[2]["id"]
        host = recent[0]["host"]

        # An incident from the old alert: its first notification (24 h after detection) is overdue.
        data, _ = api.expect(201, "POST", "/api/v1/incidents", {"title": "Old intrusion", "severity": "high",
                                                                 "alerts": [old[0]["id"]]},
                             {"Authorization": "Bearer " + admin})
        overdue_id = json.loads(data)["id"]

        # --- the browser ------------------------------------------------------------------------
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support.ui import Select, WebDriverWait

        driver = make_driver(h)
        base = f"https://127.0.0.1:{h.console_port}"

        def body_text():
            try:
                return driver.find_element(By.TAG_NAME, "body").text
            except Exception as e:  # noqa: BLE001
                return f"(no body: {e})"

        def shot(name, also=None):
            """The whole page, however tall (the window cannot grow past the screen)."""
            height = driver.execute_script(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight, 700)")
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": 1400, "height": min(int(height), 6000), "deviceScaleFactor": 1, "mobile": False})
            try:
                driver.save_screenshot(f"{art}/{name}.png")
            finally:
                driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            if also:
                shutil.copyfile(f"{art}/{name}.png", also)

        def wait(pred, what, secs=20):
            def attempt(_):
                try:
                    return pred()
                except (WebDriverException, AttributeError, TypeError, IndexError):  # redrawn or not drawn yet
                    return False
            try:
                return WebDriverWait(driver, secs, poll_frequency=0.2).until(attempt)
            except Exception:
                shot("failure")
                h.fail(f"browser: timed out waiting for {what}; page text: {body_text()[:1200]}")

        def find(css):
            found = driver.find_elements(By.CSS_SELECTOR, css)
            return found[0] if found else None

        def texts(css):
            return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]

        def sign_in(user, password):
            wait(lambda: find("#login-form"), "the login form")
            find("#login-user").send_keys(user)
            find("#login-password").send_keys(password + Keys.ENTER)
            wait(lambda: find("#who") and find("#who").text.startswith(user), f"{user} signed in")

        def incident(n):
            return api.json("GET", f"/api/v1/incidents/{n}", admin)

        driver.get(base + "/")
        sign_in(*ANALYST)

        # Alerts page: tick two alerts, open an incident from them.
        find("#nav-alerts").click()
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#alerts-table tbody tr")) == 5, "five alerts")
        if not find("#incident-create-form") or find("#incident-picked").get_attribute("data-count") != "0":
            h.fail("the alerts page offers no incident form to an analyst")
        for n in (a1, a2):
            find(f'#alerts-table input.pick[data-id="{n}"]').click()
        wait(lambda: find("#incident-picked").get_attribute("data-count") == "2", "two alerts picked")
        if Select(find("#incident-new-severity")).first_selected_option.get_attribute("value") != "4":
            h.fail("the severity offered is not the highest of the picked alerts (high)")
        find("#incident-create").click()
        wait(lambda: find("#incident-create-error") and find("#incident-create-error").text, "the missing title's message")
        find("#incident-new-title").send_keys(TITLE)
        shot("alerts-picked")
        find("#incident-create").click()
        wait(lambda: re.search(r"#/incidents/(\d+)$", driver.current_url) and find("#incident-timeline"),
             "the new incident's page")
        inc = int(re.search(r"#/incidents/(\d+)$", driver.current_url).group(1))
        got = incident(inc)
        if (sorted(a["id"] for a in got["alerts"]) != sorted([a1, a2]) or got["title"] != TITLE or got["severity"] != 4
                or got["created_by"] != ANALYST[0] or got["status"] != "open"):
            h.fail(f"the incident the console opened: {got}")

        # The list: a live countdown, the overdue one in red, the status filter.
        find("#nav-incidents").click()
        row = f"#incident-row-{inc}"
        late_row = f"#incident-row-{overdue_id}"
        wait(lambda: find(row) and find(late_row), "both incidents listed")
        cells = {c: find(f"{row} .{c}-cell").text for c in ("title", "alerts", "hosts", "agencies", "status")}
        if cells != {"title": TITLE, "alerts": "2", "hosts": host, "agencies": AGENCY, "status": "open"}:
            h.fail(f"the incident's row shows {cells}")
        countdown = f'{row} .deadline[data-kind="notify"]'
        first = find(countdown).text
        time.sleep(1.3)
        second = find(countdown).text
        if first == second or not all(re.fullmatch(r"notify in 2[23]h \d{1,2}m \d{1,2}s", x) for x in (first, second)):
            h.fail(f"the notification countdown reads {first!r} then {second!r}")
        if "overdue" in find(row).get_attribute("class"):
            h.fail("the new incident is flagged overdue")
        late = find(f'{late_row} .deadline[data-kind="notify"]')
        colour = late.value_of_css_property("color")
        if ("overdue" not in find(late_row).get_attribute("class") or late.get_attribute("data-state") != "overdue"
                or "OVERDUE" not in late.text.upper() or "notification" not in late.text
                or not re.search(r"rgba?\((1[5-9]\d|2\d\d), (\d{1,2}), (\d{1,2})", colour)):
            h.fail(f"the overdue incident's deadline: {late.text!r}, state {late.get_attribute('data-state')}, colour {colour}")
        shot("incidents", "/tmp/console-incident-list-en.png")
        Select(find("#in-status")).select_by_value("contained")
        wait(lambda: "status=contained" in driver.current_url and find("#incidents-empty"), "no contained incident")
        Select(find("#in-status")).select_by_value("active")
        wait(lambda: "status=active" in driver.current_url and find(row) and find(late_row), "the active incidents")

        # The detail: both alerts (links to their views), the timeline, only forward steps.
        find(f"{row} .title-cell").click()
        wait(lambda: find("#incident-alerts") and find("#incident-timeline"), "the incident's detail")
        hrefs = sorted(a.get_attribute("href").split("#", 1)[1] for a in driver.find_elements(By.CSS_SELECTOR, "#incident-alerts a"))
        if hrefs != sorted([f"/alerts/{a1}", f"/alerts/{a2}"]):
            h.fail(f"the incident's alerts link to {hrefs}")
        timeline_css = "#incident-timeline tbody tr"

        def actions():
            return [e.get_attribute("data-action") for e in driver.find_elements(By.CSS_SELECTOR, timeline_css)]

        def steps():
            return [b.get_attribute("data-status") for b in driver.find_elements(By.CSS_SELECTOR, "#incident-status-actions button")]

        if actions() != ["created", "alert", "alert"]:
            h.fail(f"the new incident's timeline: {actions()}")
        timeline = find("#incident-timeline").text
        if "opened the incident" not in timeline or "added an alert" not in timeline or ANALYST[0] not in timeline:
            h.fail("the timeline does not say who did what: " + timeline)
        if steps() != ["contained", "resolved", "reported"]:
            h.fail(f"the steps offered to an open incident: {steps()}")
        if (not re.fullmatch(r"2[23]h \d{1,2}m \d{1,2}s", find("#clock-notify .left-cell").text)
                or find("#clock-notify .state-cell [data-state]").text != "pending"):
            h.fail("the detail's notification deadline: " + find("#clock-notify").text)
        shot("incident-open", "/tmp/console-incident-open-en.png")
        detected = find("#incident-detected").text
        if not re.search(r"\d\d:\d\d:\d\d", detected) or find("#incident-hosts").text != host:
            h.fail(f"the facts: detected {detected!r}, hosts {find('#incident-hosts').text!r}")

        # A refusal shows: the alert is already there (409); then one more alert.
        find("#incident-alert-input").send_keys(str(a1))
        find("#btn-incident-add-alert").click()
        wait(lambda: find("#incident-error") and "409" in find("#incident-error").text
             and f"alert {a1} is already in incident {inc}" in find("#incident-error").text, "the 409 shown")
        find("#incident-alert-input").send_keys(str(a3))
        find("#btn-incident-add-alert").click()
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#incident-alerts tbody tr")) == 3 and not find("#incident-error"),
             "the third alert")

        # Forward: contained, resolved, reported; the timeline grows, nothing behind is offered.
        for status, ahead in (("contained", ["resolved", "reported"]), ("resolved", ["reported"]), ("reported", [])):
            before = len(actions())
            find(f"#btn-status-{status}").click()
            wait(lambda: find("#incident-status [data-status]").get_attribute("data-status") == status
                 and len(actions()) == before + 1, f"the incident {status}")
            if steps() != ahead or actions()[-1] != "status":
                h.fail(f"after {status}: steps offered {steps()}, timeline {actions()}")
        if not find("#incident-final"):
            h.fail("a reported incident does not say it is at its last step")
        statuses = texts('#incident-timeline tr[data-action="status"] td:last-child')
        if statuses != ["contained", "resolved", "reported"]:
            h.fail(f"the timeline's statuses: {statuses}")

        # Comment (markup as text), assign, first notification with a note: the clock shows met.
        find("#incident-comment-input").send_keys(COMMENT)
        find("#btn-incident-comment").click()
        wait(lambda: actions()[-1] == "comment", "the comment in the timeline")
        if texts('#incident-timeline tr[data-action="comment"] td:last-child') != [COMMENT]:
            h.fail("the comment does not show as text: " + find("#incident-timeline").text)
        find("#incident-assign-input").send_keys("minh")
        find("#btn-incident-assign").click()
        wait(lambda: find("#incident-assignee").text == "minh" and actions()[-1] == "assign", "the assignment")
        find("#incident-notify-note").send_keys(NOTE)
        find("#btn-incident-notified").click()
        wait(lambda: find("#incident-notified") and actions()[-1] == "notified", "the notification recorded")
        state = find("#clock-notify .state-cell [data-state]")
        if (state.get_attribute("data-state") != "met" or state.text != "met"
                or find('#clock-notify .deadline').get_attribute("data-state") != "met"):
            h.fail("the notification clock after recording it: " + find("#incident-clock").text)
        if find('#clock-report .state-cell [data-state]').get_attribute("data-state") != "met":
            h.fail("the report clock after the status reported: " + find("#incident-clock").text)
        if NOTE not in find('#incident-timeline tr[data-action="notified"]').text:
            h.fail("the notification's note is not in the timeline")
        got = incident(inc)
        if (got["status"], got["assignee"], got["clock"]["notify"]["state"]) != ("reported", "minh", "met"):
            h.fail(f"the API after the console's changes: {got['status']}, {got['assignee']}, {got['clock']}")
        if [e["action"] for e in got["timeline"]] != actions():
            h.fail(f"the page's timeline {actions()} is not the API's {[e['action'] for e in got['timeline']]}")
        injected = driver.execute_script("return document.querySelectorAll('#main i, #main script').length")
        if injected != 0:
            h.fail(f"the comment's markup became {injected} elements")
        wait(lambda: not find("#toast"), "the last message gone")
        shot("incident-en", "/tmp/console-incident-en.png")

        # The printable report with the browser's session: HTML holding the title.
        report = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            f"fetch('/api/v1/incidents/{inc}/report?lang=en', {{credentials: 'same-origin'}})"
            ".then(r => r.text().then(t => done([r.status, r.headers.get('Content-Type'), t])))"
            ".catch(e => done([0, '', String(e)]));")
        if report[0] != 200 or not report[1].startswith("text/html") or TITLE not in report[2] or "<html" not in report[2]:
            h.fail(f"the report through the browser: {report[0]} {report[1]} {report[2][:300]!r}")
        links = {l: find(f"#incident-report-{l}").get_attribute("href") for l in ("vi", "en")}
        if links != {l: f"{base}/api/v1/incidents/{inc}/report?lang={l}" for l in ("vi", "en")}:
            h.fail(f"the report links: {links}")
        console_tab = driver.current_window_handle
        find("#incident-report-vi").click()
        wait(lambda: len(driver.window_handles) == 2, "the report's tab")
        driver.switch_to.window([w for w in driver.window_handles if w != console_tab][0])
        wait(lambda: TITLE in body_text(), "the printable report in its tab")
        shot("incident-report-vi")
        driver.close()
        driver.switch_to.window(console_tab)

        # Vietnamese.
        find("#lang-toggle").click()
        wait(lambda: find("#nav-incidents").text == "Sự cố" and "Diễn biến" in body_text(), "the incident in Vietnamese")
        for want in ("Thời hạn báo cáo", "Thông báo ban đầu", "đúng hạn", "đã báo cáo", "đổi trạng thái", "mở sự cố",
                     "thêm cảnh báo", "ghi nhận đã thông báo ban đầu", "Báo cáo (tiếng Việt)", "Xử lý", "Chuyển sang"):
            if want not in body_text():
                h.fail(f"the Vietnamese incident page lacks {want!r}")
        if find("#incident-status").text != "đã báo cáo":
            h.fail("the status in Vietnamese: " + find("#incident-status").text)
        wait(lambda: not find("#toast"), "the last message gone")
        shot("incident-vi", "/tmp/console-incident-vi.png")
        find("#nav-incidents").click()
        wait(lambda: find(late_row) and find("#incidents-title").text == "Sự cố", "the list in Vietnamese")
        late = find(f'{late_row} .deadline[data-kind="notify"]').text
        pending = find(f'{late_row} .deadline[data-kind="report"]').text
        if "QUÁ HẠN" not in late.upper() or not re.fullmatch(r"báo cáo trong (\d+ ngày )?\d+ giờ \d+ phút \d+ giây", pending):
            h.fail(f"the overdue incident in Vietnamese: {late!r}, {pending!r}")
        shot("incidents-vi", "/tmp/console-incident-list-vi.png")
        find("#lang-toggle").click()
        wait(lambda: find("#incidents-title").text == "Incidents", "English again")

        # An auditor: reads the incident and its reports, changes nothing, opens nothing.
        find("#logout").click()
        sign_in(*AUDITOR)
        driver.get(f"{base}/#/incidents/{inc}")
        wait(lambda: find("#incident-timeline") and find("#incident-alerts"), "the incident for the auditor")
        if find("#incident-actions") or driver.find_elements(By.CSS_SELECTOR, "#main button"):
            h.fail("the auditor is offered actions: " + " | ".join(texts("#main button")))
        if not find("#incident-report-en") or TITLE not in find("#incident-heading").text:
            h.fail("the auditor does not see the incident and its report")
        shot("incident-auditor")
        find("#nav-alerts").click()
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#alerts-table tbody tr")) == 5, "the auditor's alerts")
        if find("#incident-create-form") or find("#alerts-table input.pick"):
            h.fail("the auditor is offered to open an incident")
        find("#nav-incidents").click()
        wait(lambda: find(row) and find(late_row), "the auditor's incident list")

        problems = [e["message"] for e in driver.get_log("browser")
                    if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
                    or (e["level"] == "SEVERE" and not any(x in e["message"] for x in ("409", "401", "Conflict", "Unauthorized")))]
        if problems:
            h.fail("browser console: " + " | ".join(problems[:5]))
        print(f"console incidents: opened from two alerts, listed with a live countdown and an overdue one, "
              f"detail, 409 shown, open → contained → resolved → reported, comment, assignment, notification met, "
              f"report, Vietnamese, auditor read-only; screenshots in {art} and /tmp/console-incident-*.png")
    finally:
        if driver is not None:
            driver.quit()
        h.close()


if __name__ == "__main__":
    main()
