/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` package
 * driven by `playwright-core` (`npx playwright install` cannot download
 * browsers on these machines). Installed with apt-get on first use.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Where Debian's package puts the browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

// Flags for a container: no sandbox (we run as root), no GPU, and no
// background traffic to Google that would slow start-up or fail offline.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

function apt(args: string[]): void {
  // Wait for the dpkg lock instead of failing: the S3 server's set-up may be installing Ceph at the same time.
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
}

/**
 * Makes sure Chromium is installed, installing Debian's package when it is missing.
 * @returns the executable's path.
 * @throws Error when it is missing and cannot be installed (not root, or no apt-get).
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM_PATH} not found: install it with "sudo apt-get install -y chromium" (or set CHROMIUM_PATH)`)
  try {
    apt(['install', '-y', '--no-install-recommends', 'chromium'])
  } catch {
    // A fresh machine may have no package lists yet.
    apt(['update'])
    apt(['install', '-y', '--no-install-recommends', 'chromium'])
  }
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium but ${CHROMIUM_PATH} is still missing`)
  return CHROMIUM_PATH
}

/**
 * Launches headless Chromium (installing it first if needed).
 * @returns the browser; close it when done.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium(), headless: true, args: ARGS })
}
