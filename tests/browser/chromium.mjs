// What the page suites share: Debian's Chromium (or $CHROMIUM), started headless with nothing
// that reaches past this machine.
import { chromium } from "playwright-core";

/**
 * Puts `page`'s script errors and console errors into `errors`, but for console lines `expected`
 * matches (an HTTP error or a reset a test provokes on purpose).
 */
export function collectErrors(page, errors, expected = null) {
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error" && !(expected && expected.test(message.text()))) errors.push(message.text());
  });
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
