"""Opens orgwatch's pages in headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium) and checks what a person would see:

- each failing account is shown with its reason;
- the charts have drawn marks (bars of a status colour, a line's points);
- an account's chain shows its broken link marked, with the reason;
- an account name holding <script> shows as text and runs nothing;
- the console has no errors (a refused request or script would be one);
- nothing was requested from another origin than the page's own.

    check_pages.py < spec.json

spec.json: {"pages": [{"url": ..., "kind": "file" | "index" | "account"}, ...],
            "failing": {account_id: reason, ...}, "broken": {"account_id": ..., "kind": ...},
            "hostile": {"account_id": ..., "name": ...}, "scans": N,
            "screenshots": DIR}

A "file" page is checked for everything; an "index" page (the daemon's /) for the failing
accounts, the charts and the hostile name; an "account" page (/accounts/{id}) for the broken
link. Prints a JSON summary of what it checked; exit 1 with the first failure on stderr.
"""

import json
import os
import sys
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

STATUS_FILLS = {"#2e7d32", "#c62828", "#ef6c00", "#9e9e9e"}


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("ORGWATCH_CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-extensions", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=os.environ.get("ORGWATCH_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def origin(url):
    parts = urlsplit(url)
    if parts.scheme == "file":
        return "file://"
    return f"{parts.scheme}://{parts.netloc}"


def requests_of(driver):
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def marks(driver, chart):
    figures = driver.find_elements(By.CSS_SELECTOR, f'figure[data-chart="{chart}"] svg')
    check(figures, f"no {chart} chart")
    svg = figures[0]
    bars = [r for r in svg.find_elements(By.TAG_NAME, "rect") if (r.get_attribute("fill") or "").lower() in STATUS_FILLS]
    points = svg.find_elements(By.TAG_NAME, "circle")
    return len(bars), len(points)


def check_failing(driver, page, failing):
    for account, reason in failing.items():
        if page["kind"] == "file":
            found = driver.find_elements(By.CSS_SELECTOR, f'section#account-{account} .finding[data-reason="{reason}"]')
            check(found, f"{page['url']}: account {account}'s {reason} is not shown")
            check(found[0].find_element(By.CSS_SELECTOR, "code.reason").text == reason, f"{account}: the reason reads otherwise")
        rows = driver.find_elements(By.CSS_SELECTOR, f'table.failing tr[data-account="{account}"]')
        check(rows and reason in rows[0].text, f"{page['url']}: account {account} is not among the failing with {reason}")


def check_charts(driver, page, scans):
    bars, _ = marks(driver, "posture-now")
    check(bars >= 2, f"{page['url']}: the posture chart drew {bars} bars")
    _, points = marks(driver, "posture-over-time")
    check(points >= scans, f"{page['url']}: the posture over time drew {points} points for {scans} scans")
    drift = driver.find_elements(By.CSS_SELECTOR, 'figure[data-chart="drift"] svg')
    if drift:
        bars, _ = marks(driver, "drift")
        check(bars >= 1, f"{page['url']}: the drift chart drew no bar")
    return {"posture_bars": marks(driver, "posture-now")[0], "points": points, "drift_chart": bool(drift)}


def check_broken(driver, page, broken, scope):
    links = driver.find_elements(By.CSS_SELECTOR, f"{scope} ol.chain li.link")
    check(len(links) >= 2, f"{page['url']}: the chain of {broken['account_id']} has {len(links)} links")
    marked = [l for l in links if l.get_attribute("data-broken") == "true"]
    check(len(marked) == 1, f"{page['url']}: {len(marked)} links marked broken")
    check(marked[0].get_attribute("data-kind") == broken["kind"], f"{page['url']}: the {marked[0].get_attribute('data-kind')} link is marked, not the {broken['kind']}")
    check(marked[0].is_displayed(), "the broken link is not visible")
    colour = marked[0].value_of_css_property("border-left-color")
    check(colour in ("rgba(198, 40, 40, 1)", "rgb(198, 40, 40)"), f"the broken link is drawn {colour}")
    check(broken["reason"] in marked[0].text, f"the broken link does not say {broken['reason']}: {marked[0].text!r}")
    kinds = [l.get_attribute("data-kind") for l in links]
    return kinds


def check_hostile(driver, page, hostile):
    rows = driver.find_elements(By.CSS_SELECTOR, f'tr.account-row[data-account="{hostile["account_id"]}"]')
    check(rows, f"{page['url']}: no row of account {hostile['account_id']}")
    cell = rows[0].find_elements(By.TAG_NAME, "td")[1]
    check(cell.text == hostile["name"], f"{page['url']}: the name shows as {cell.text!r}, not {hostile['name']!r}")
    check(driver.execute_script("return window.__orgwatch_pwned === undefined"), f"{page['url']}: the name's script ran")
    check(not driver.find_elements(By.CSS_SELECTOR, "tr.account-row script, section.account script"), "a script element was made of a name")


def check_search(driver, page, hostile):
    box = driver.find_element(By.ID, "account-search")
    check(box.is_displayed(), "the search box is hidden although scripts run")
    box.send_keys(hostile["account_id"])
    shown = [r for r in driver.find_elements(By.CSS_SELECTOR, "tr.account-row") if r.is_displayed()]
    check([r.get_attribute("data-account") for r in shown] == [hostile["account_id"]], f"the search for {hostile['account_id']} shows {len(shown)} rows")
    driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'))", box)
    shown = [r for r in driver.find_elements(By.CSS_SELECTOR, "tr.account-row") if r.is_displayed()]
    check(len(shown) > 1, "an empty search does not show every account again")


def main():
    spec = json.load(sys.stdin)
    os.makedirs(spec["screenshots"], exist_ok=True)
    driver = browser()
    summary = []
    try:
        for n, page in enumerate(spec["pages"]):
            driver.get_log("performance")
            driver.get_log("browser")
            driver.get(page["url"])
            check(driver.execute_script("return document.readyState") == "complete", f"{page['url']} did not load")
            done = {"url": page["url"], "kind": page["kind"]}
            if page["kind"] in ("file", "index"):
                check_failing(driver, page, spec["failing"])
                done["charts"] = check_charts(driver, page, spec["scans"])
                check_hostile(driver, page, spec["hostile"])
                done["failing_checked"] = len(spec["failing"])
            if page["kind"] == "file":
                done["chain"] = check_broken(driver, page, spec["broken"], f'section#account-{spec["broken"]["account_id"]}')
                check_search(driver, page, spec["hostile"])
            if page["kind"] == "account":
                done["chain"] = check_broken(driver, page, spec["broken"], "section.account")
            shot = os.path.join(spec["screenshots"], f"{n}-{page['kind']}.png")
            if page["kind"] == "file":
                driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(shot)
            done["screenshot"] = shot
            errors = console_errors(driver)
            check(not errors, f"{page['url']}: console errors: {errors}")
            own = origin(page["url"])
            requested = requests_of(driver)
            foreign = [u for u in requested if not u.startswith("data:") and origin(u) != own]
            check(not foreign, f"{page['url']}: requests to other origins: {foreign}")
            done["requests"] = len(requested)
            summary.append(done)
    except Failure as e:
        print(f"check_pages: {e}", file=sys.stderr)
        return 1
    finally:
        driver.quit()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
