#!/usr/bin/env python3
"""Information systems in the web console, headless Chromium against a real collector on 127.0.0.1
with one enrolled agent scanning a fake root: a level-1 check that passes and a level-3 check that
fails.

An admin creates a system at level 3 on the Systems page and assigns the agent to it from the
agents page; the Systems page then lists the system with its level, one host and a score of 50 %
(both checks count at level 3). The system's page shows the host, score and self-assessment; the
admin lowers the level to 2 and the score becomes 100 % (the level-3 check no longer counts). The
compliance page groups the agency by system, with the level. In Vietnamese the pages read in
Vietnamese. An auditor sees the systems but no form to create or change one, nor to assign agents.
No Content-Security-Policy violation is reported. Screenshots: /tmp/console-systems-*.png.

Usage: console_systems.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import os
import shutil
import subprocess
import sys

try:
    import selenium  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

import re  # noqa: E402

from console_e2e import Api, make_driver  # noqa: E402
from vigil_harness import Harness  # noqa: E402

AGENCY = "Sở TTTT Huế"
ADMIN, AUDITOR = ("quan", "quan-Systems-Secret-01"), ("kiem", "kiem-Audit-Secret-001")
SYSTEM = "cong-dich-vu-cong"
POLICY = """policy: {id: sys-test, title: Systems test, version: "1"}
checks:
  - id: root-login
    title: SSH root login is disabled
    rationale: r
    remediation: m
    level: 1
    compliance: {tcvn11930: [server.authentication]}
    condition:
      setting: {path: /etc/ssh/sshd_config, format: sshd, key: PermitRootLogin, value: "no", default: prohibit-password}
  - id: forwarding
    title: IPv4 forwarding is off
    rationale: r
    remediation: m
    level: 3
    compliance: {tcvn11930: [network.access-control]}
    condition:
      sysctl: {key: net.ipv4.ip_forward, value: 0}
"""


def main():
    h = Harness("vigil-systems-")
    driver = None
    art = os.path.join(os.environ.get("VIGIL_TEST_ARTIFACTS", f"{h.tmp}/artifacts"), "console-systems")
    try:
        os.makedirs(art, exist_ok=True)
        pol, root = f"{h.tmp}/pol", f"{h.tmp}/root"
        for d in (f"{pol}/policies", f"{root}/etc/ssh", f"{root}/proc/sys/net/ipv4"):
            os.makedirs(d)
        with open(f"{pol}/policies/p.yaml", "w") as f:
            f.write(POLICY)
        os.makedirs(f"{pol}/frameworks")
        shutil.copyfile(f"{h.src}/rules/frameworks/tcvn11930.yaml", f"{pol}/frameworks/tcvn11930.yaml")
        with open(f"{root}/etc/ssh/sshd_config", "w") as f:
            f.write("PermitRootLogin no\n")
        with open(f"{root}/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1\n")
        h.init_collector()
        h.start_collector()
        with open(f"{h.tmp}/c/vigilctl.yaml") as f:
            admin = re.search(r"^token: (\S+)$", f.read(), re.M).group(1)
        api = Api(h)
        for (name, password), role in ((ADMIN, "admin"), (AUDITOR, "auditor")):
            r = subprocess.run(h.ctl + ["users", "add", name, "--role", role], input=password + "\n",
                               capture_output=True, text=True)
            if r.returncode != 0:
                h.fail("users add: " + r.stderr)
        d, _ = h.enroll_agent("portal", "raw", agency=AGENCY,
                              policies=f'{{paths: ["{pol}"], root: "{root}", interval: 1h}}')
        h.start_agent(d)

        def agency_summary():
            for a in api.json("GET", "/api/v1/compliance", admin):
                if a["agency"] == AGENCY:
                    return a
            return None

        h.wait_for(60, lambda: (agency_summary() or {}).get("pass", 0) >= 1, "the scan's results")
        agent_id = api.json("GET", "/api/v1/agents", admin)[0]["id"]

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

        def shot(name):
            height = driver.execute_script(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight, 700)")
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": 1400, "height": min(int(height), 6000), "deviceScaleFactor": 1, "mobile": False})
            try:
                driver.save_screenshot(f"{art}/{name}.png")
            finally:
                driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            shutil.copyfile(f"{art}/{name}.png", f"/tmp/console-systems-{name}.png")

        def wait(pred, what, secs=20):
            def attempt(_):
                try:
                    return pred()
                except (WebDriverException, AttributeError, TypeError, IndexError):
                    return False
            try:
                return WebDriverWait(driver, secs, poll_frequency=0.2).until(attempt)
            except Exception:
                shot("failure")
                h.fail(f"browser: timed out waiting for {what}; page text: {body_text()[:1500]}")

        def find(css):
            found = driver.find_elements(By.CSS_SELECTOR, css)
            return found[0] if found else None

        def sign_in(user, password):
            wait(lambda: find("#login-form"), "the login form")
            find("#login-user").send_keys(user)
            find("#login-password").send_keys(password + Keys.ENTER)
            wait(lambda: find("#who") and find("#who").text.startswith(user), f"{user} signed in")

        row = f'#systems-table tr[data-system="{SYSTEM}"]'

        def cell(css):
            return find(f"{row} {css}").text

        driver.get(base + "/")
        sign_in(*ADMIN)

        # Create the system at level 3.
        find("#nav-systems").click()
        wait(lambda: find("#system-create"), "the create form")
        find("#system-name").send_keys(SYSTEM)
        agency = find("#system-agency")
        agency.clear()
        agency.send_keys(AGENCY)
        Select(find("#system-level")).select_by_value("3")
        find("#system-description").send_keys("Cổng dịch vụ công <tỉnh>")
        find("#system-submit").click()
        wait(lambda: find(row), "the new system listed")
        if cell(".system-level") != "3" or cell(".system-hosts") != "0":
            h.fail(f"the new system: {find(row).text}")

        # Assign the agent to it.
        find("#nav-agents").click()
        box = f'.agent-systems-input[data-systems-of="{agent_id}"]'
        wait(lambda: find(box), "the agent's systems field")
        find(box).send_keys(SYSTEM)
        find(f'.agent-systems-save[data-systems-of="{agent_id}"]').click()
        wait(lambda: find(f'.agent-systems a[href="#/systems/{SYSTEM}"]'), "the agent's system link")
        shot("agents")

        # The Systems page: level 3, one host, 50 % (a pass at level 1, a fail at level 3).
        find("#nav-systems").click()
        wait(lambda: find(row) and cell(".system-hosts") == "1", "the system with its host")
        if cell(".system-level") != "3" or "50 %" not in cell(".system-score"):
            h.fail(f"the system's row: {find(row).text}")
        shot("list")

        # Its page: the host, the score, the self-assessment; lowering the level to 2 drops the
        # level-3 check.
        find(f"{row} a.system-link").click()
        wait(lambda: find("#system-facts") and find("#system-hosts"), "the system's page")
        if "portal" not in find("#system-hosts").text or "50 %" not in find("#system-facts").text:
            h.fail("the system's page: " + body_text()[:800])
        if not find("#system-self-assessment"):
            h.fail("no self-assessment on the system's page")
        shot("detail")
        Select(find("#system-edit-level")).select_by_value("2")
        find("#system-save").click()
        wait(lambda: find("#system-level-value") and find("#system-level-value").text == "2", "the level changed")
        wait(lambda: "100 %" in find("#system-facts").text, "the score at level 2")

        # Compliance: agency → system (level) → host.
        find("#nav-compliance").click()
        part = f'.system-part[data-system="{SYSTEM}"]'
        wait(lambda: find(part), "the system in the compliance view")
        text = find(part).text
        if SYSTEM not in text or "Level 2" not in text or "100 %" not in text or "portal" not in text:
            h.fail("the compliance view's system: " + text)
        shot("compliance")

        # Vietnamese.
        find("#lang-toggle").click()
        wait(lambda: find("#nav-systems").text == "Hệ thống", "the Vietnamese menu")
        wait(lambda: "Theo hệ thống thông tin" in body_text() and "Cấp độ 2" in find(part).text, "the Vietnamese compliance view")
        find("#nav-systems").click()
        wait(lambda: find(row) and "Hệ thống thông tin" in body_text(), "the Vietnamese systems page")
        shot("list-vi")
        find("#lang-toggle").click()

        # An auditor reads only.
        find("#logout").click()
        sign_in(*AUDITOR)
        find("#nav-systems").click()
        wait(lambda: find(row), "the auditor's systems")
        if find("#system-create"):
            h.fail("the auditor is offered to create a system")
        find(f"{row} a.system-link").click()
        wait(lambda: find("#system-facts"), "the auditor's system page")
        if find("#system-edit"):
            h.fail("the auditor is offered to change a system")
        find("#nav-agents").click()
        wait(lambda: find("#agents-table"), "the auditor's agents")
        if find(".agent-systems-input") or not find(f'.agent-systems a[href="#/systems/{SYSTEM}"]'):
            h.fail("the auditor's agents page: " + body_text()[:600])

        problems = [e["message"] for e in driver.get_log("browser")
                    if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
                    or (e["level"] == "SEVERE" and not any(x in e["message"] for x in ("401", "Unauthorized")))]
        if problems:
            h.fail("browser console: " + " | ".join(problems[:5]))
        print(f"console systems: created at level 3, agent assigned, listed with its host and 50 %, detail, level 2 "
              f"→ 100 %, compliance by system, Vietnamese, auditor read-only; screenshots in {art} and "
              f"/tmp/console-systems-*.png")
    finally:
        if driver is not None:
            driver.quit()
        h.close()


if __name__ == "__main__":
    main()
