// berth's web console in a real Chromium, against the real `berth` binary.
//
// Plain node (no test framework): starts `berth serve` on a free loopback port with a fresh data
// directory, launches Debian's Chromium through playwright-core, and drives the console the way
// a person does, finding every control by its role and accessible name (no test ids). skopeo
// pushes and pulls an image with the credentials the console showed; axe-core (injected into
// the page) checks every main page and dialog for serious and critical accessibility
// violations. Screenshots of the main pages go to $BERTH_SCREENSHOTS (default
// target/screenshots).
//
//   node tests/browser/console.test.mjs [NAME_SUBSTRING ...]   (scripts/browser.sh installs and builds)
//
// Environment: BERTH_BIN (default $CARGO_TARGET_DIR/debug/berth or target/debug/berth),
// BERTH_CHROMIUM (default /usr/bin/chromium), BERTH_SCREENSHOTS, BERTH_BROWSER_KEEP=1 (keep the
// temporary directory: server log, data, client state), BERTH_BROWSER_HEADED=1 (show the browser).
// The last line printed is cargo's `test result:` line; the exit code is 1 when a test failed.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET_DIR = process.env.CARGO_TARGET_DIR || path.join(REPO_ROOT, 'target');
const BERTH_BIN = process.env.BERTH_BIN || path.join(TARGET_DIR, 'debug', 'berth');
const CHROMIUM = process.env.BERTH_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.BERTH_SCREENSHOTS
  ? path.resolve(process.env.BERTH_SCREENSHOTS)
  : path.join(REPO_ROOT, 'target', 'screenshots');
const KEEP = !!process.env.BERTH_BROWSER_KEEP;
const ADMIN_PASSWORD = `admin-${crypto.randomBytes(8).toString('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const RUN_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-browser.'));

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (data) => `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
const token = (n = 4) => crypto.randomBytes(n).toString('hex');

// Calls `check` until it returns a truthy value; fails after `timeout` ms with the last value.
// `detail()` describes the last state seen, for the message.
async function until(what, check, { timeout = 15000, interval = 200, detail } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const seen = detail ? detail() : last instanceof Error ? last.message : last;
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last seen: ${JSON.stringify(seen)})`);
    }
    await sleep(interval);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function tail(file, lines = 60) {
  try {
    // eslint-disable-next-line no-control-regex
    const text = fs.readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    return `--- last ${Math.min(lines, text.length)} lines of ${file}\n${text.slice(-lines).join('\n')}`;
  } catch (_) {
    return `--- no ${file}`;
  }
}

// ---------------------------------------------------------------------------------------------
// The berth server
// ---------------------------------------------------------------------------------------------

class Berth {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(RUN_DIR, 'berth.'));
    this.dataDir = path.join(this.dir, 'data');
    this.logPath = path.join(this.dir, 'server.log');
    this.proc = null;
    this.port = null;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
    this.env = {
      ...env,
      BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // Pull counts reach the database within a second of a pull.
      BERTH_STATS_FLUSH_INTERVAL: '1s',
      BERTH_TOKEN_KEY: `berth-browser-${token(16)}`,
      BERTH_LOG: 'info,berth=debug',
      BERTH_DATA_DIR: this.dataDir,
    };
  }

  get host() {
    return `127.0.0.1:${this.port}`;
  }

  get url() {
    return `http://${this.host}`;
  }

  async start(timeout = 60000) {
    if (!fs.existsSync(BERTH_BIN)) throw new Error(`no berth binary at ${BERTH_BIN} (cargo build -p berth)`);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      this.port = await freePort();
      const log = fs.openSync(this.logPath, 'a');
      fs.writeSync(log, `--- berth serve on ${this.host}\n`);
      this.proc = spawn(BERTH_BIN, ['serve', '--data-dir', this.dataDir, '--listen', this.host], {
        env: this.env, stdio: ['ignore', log, log],
      });
      fs.closeSync(log);
      let exited = false;
      this.proc.once('exit', () => { exited = true; });
      const deadline = Date.now() + timeout;
      while (Date.now() < deadline && !exited) {
        try {
          const r = await fetch(`${this.url}/readyz`);
          if (r.status === 200) return this;
        } catch (_) {
          // not listening yet
        }
        await sleep(100);
      }
      if (!exited) {
        await this.stop();
        throw new Error(`berth not ready within ${timeout} ms\n${tail(this.logPath)}`);
      }
      this.proc = null;
      if (!/in use/i.test(fs.readFileSync(this.logPath, 'utf8'))) {
        throw new Error(`berth exited at start\n${tail(this.logPath)}`);
      }
    }
    throw new Error(`berth: no free port after 3 attempts\n${tail(this.logPath)}`);
  }

  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20000);
    await done;
    clearTimeout(timer);
    this.proc = null;
  }
}

// ---------------------------------------------------------------------------------------------
// OCI images and skopeo
// ---------------------------------------------------------------------------------------------

// An uncompressed ustar archive holding one regular file.
function tarOneFile(name, data) {
  const header = Buffer.alloc(512, 0);
  const octal = (n, width) => `${n.toString(8).padStart(width - 1, '0')}\0`;
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100, 8, 'ascii');
  header.write(octal(0, 8), 108, 8, 'ascii');
  header.write(octal(0, 8), 116, 8, 'ascii');
  header.write(octal(data.length, 12), 124, 12, 'ascii');
  header.write(octal(0, 12), 136, 12, 'ascii');
  header.fill(' ', 148, 156);
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024)]);
}

// An OCI image layout at `dir` with one image tagged `tag`: one fresh random layer declared
// tar+gzip (skopeo re-uses blobs it has seen, so a test that must upload needs new bytes).
function writeOciLayout(dir, tag) {
  const tar = tarOneFile(`data/${token(8)}.bin`, crypto.randomBytes(200 * 1024));
  const layer = zlib.gzipSync(tar);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Labels: { 'berth.test': token(8) } },
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: 'berth browser test' }],
  }, null, 2));
  const descriptor = (mediaType, data) => ({ mediaType, digest: sha256(data), size: data.length });
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor('application/vnd.oci.image.config.v1+json', config),
    layers: [descriptor('application/vnd.oci.image.layer.v1.tar+gzip', layer)],
  }, null, 2));
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  for (const data of [config, manifest, layer]) fs.writeFileSync(path.join(blobs, sha256(data).slice(7)), data);
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ ...descriptor(OCI_MANIFEST, manifest), annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { ref: `oci:${dir}:${tag}`, digest: sha256(manifest), size: manifest.length + config.length + layer.length };
}

// skopeo with state private to the run: a registries.conf marking the registry insecure, an
// empty auth file, no configuration from the caller's home.
class Skopeo {
  constructor(host) {
    this.host = host;
    this.dir = fs.mkdtempSync(path.join(RUN_DIR, 'skopeo.'));
    const conf = path.join(this.dir, 'registries.conf');
    fs.writeFileSync(conf, `unqualified-search-registries = []\n\n[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
    const auth = path.join(this.dir, 'auth.json');
    fs.writeFileSync(auth, '{}');
    const env = Object.fromEntries(Object.entries(process.env)
      .filter(([k]) => !k.startsWith('BERTH_') && !k.startsWith('REGISTRY_') && !k.startsWith('CONTAINERS_')));
    this.env = {
      ...env,
      CONTAINERS_REGISTRIES_CONF: conf,
      REGISTRY_AUTH_FILE: auth,
      TMPDIR: this.dir,
      HOME: this.dir,
      XDG_CONFIG_HOME: path.join(this.dir, 'config'),
    };
  }

  run(args, { ok = true } = {}) {
    const r = spawnSync('skopeo', args, { env: this.env, encoding: 'utf8', timeout: 180000 });
    if (r.error) throw r.error;
    if (ok && r.status !== 0) {
      throw new Error(`skopeo ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    }
    return r;
  }

  push(src, name, creds) {
    return this.run(['copy', '--dest-tls-verify=false', '--dest-creds', creds, src, `docker://${this.host}/${name}`]);
  }

  pull(name, dest, creds) {
    return this.run(['copy', '--src-tls-verify=false', '--src-creds', creds, `docker://${this.host}/${name}`, dest]);
  }

  // `skopeo login`: whether the registry accepts these credentials now.
  login(user, secret) {
    return this.run(['login', '--tls-verify=false', '-u', user, '-p', secret, this.host], { ok: false }).status === 0;
  }

  inspectRaw(name, creds) {
    return this.run(['inspect', '--raw', '--tls-verify=false', '--creds', creds, `docker://${this.host}/${name}`], { ok: false });
  }
}

// ---------------------------------------------------------------------------------------------
// Browser helpers
// ---------------------------------------------------------------------------------------------

async function screenshot(page, name, { fullPage = true } = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await dismissToasts(page);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage, animations: 'disabled' });
}

// Selectors are roles and accessible names (what a person sees and a screen reader reads), never
// test ids: a control a test cannot find by its label is one a screen-reader user cannot find
// either.
const dialogNamed = (page, name) => page.getByRole('dialog', { name });
const buttonNamed = (scope, name) => scope.getByRole('button', { name, exact: true });
const tableNamed = (page, name) => page.getByRole('table', { name, exact: true });
const pageHeading = (page) => page.locator('#content').getByRole('heading', { level: 1 });
// The rows of `table` holding `text` (a name the row shows).
const rowOf = (table, text) => table.getByRole('row').filter({ hasText: text });

// The cell of `row` under the column headed `column`.
async function cell(row, column) {
  const i = await row.evaluate((tr, col) => [...tr.closest('table').querySelectorAll('thead th')]
    .findIndex((th) => th.textContent.trim() === col), column);
  if (i < 0) throw new Error(`no column ${column}`);
  return row.getByRole('cell').nth(i);
}
const cellText = async (row, column) => text(await cell(row, column));

// The texts of a table's column (headed `column`), every body row, read at one instant.
const columnTexts = (table, column) => table.evaluate((t, col) => {
  const i = [...t.querySelectorAll('thead th')].findIndex((th) => th.textContent.trim() === col);
  if (i < 0) throw new Error(`no column ${col}`);
  return [...t.querySelectorAll('tbody tr')].map((tr) => (tr.cells[i] ? tr.cells[i].textContent.trim() : ''));
}, column);

async function text(locator) {
  return ((await locator.textContent()) || '').trim();
}

async function expectCopied(page, expected, what) {
  // The real clipboard (permission granted to the origin) holds it.
  let clip = null;
  await until(`${what} to be copied`, async () => {
    clip = await page.evaluate(() => navigator.clipboard.readText());
    return clip === expected;
  }, { detail: () => clip });
}

async function dismissToasts(page) {
  await page.evaluate(() => document.querySelectorAll('.toasts > *').forEach((t) => t.remove()));
}

// The toast (a status message) holding `hasText`.
const toastWith = (page, hasText) => page.getByRole('status').locator('> *', { hasText });

async function login(page, base, username, password) {
  await page.goto(`${base}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await buttonNamed(page, 'Log in').click();
}

async function loginAsAdmin(page, base) {
  await login(page, base, 'admin', ADMIN_PASSWORD);
  await userMenu(page).waitFor({ timeout: 15000 });
}

// The user menu's button, the top bar's only button (named by its text: the user's name and role).
const userMenu = (page) => page.getByRole('banner').getByRole('button');

// The action menu of a table row, then its item named `item`.
async function rowMenu(page, row, item) {
  await row.getByRole('button', { name: /^Actions for / }).click();
  await page.getByRole('menu').getByRole('menuitem', { name: item, exact: true }).click();
}

// A repository's sections (links with aria-current, not tabs).
const section = (page, name) => page.getByRole('navigation', { name: /^Repository / }).getByRole('link', { name, exact: true });

// Checks the page with axe-core (tests/browser/node_modules/axe-core, injected into the page):
// no serious or critical violation of the WCAG A and AA rules and best practices.
const AXE = path.join(REPO_ROOT, 'tests', 'browser', 'node_modules', 'axe-core', 'axe.min.js');
const axeChecked = [];
async function checkA11y(page, what) {
  // Animations and the toasts' timers settle first; toasts come and go and are checked where
  // they stay (the dialogs).
  await page.waitForTimeout(250);
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
    }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe-core on ${what}: ${bad.length} serious or critical violations:\n${JSON.stringify(bad, null, 2)}`);
  axeChecked.push(what);
}

// Whether the focus is on `locator`.
const focused = (locator) => locator.evaluate((el) => el === document.activeElement);

// A YYYY-MM-DD date `days` from today (UTC).
const isoDate = (days) => new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);

// The account berth creates at its first start, where the administrator acts by default.
const DEFAULT_ACCOUNT = '10000';

// A login through the API, outside the browser: the status, the body and the session cookie.
async function apiLogin(berth, username, password) {
  const r = await fetch(`${berth.url}/api/v1/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  const body = await r.json().catch(() => null);
  const cookie = (r.headers.get('set-cookie') || '').split(';')[0];
  return { status: r.status, body, cookie };
}

// GET /api/v1/session with a cookie (outside the browser), or from a page with its own cookie.
async function sessionStatus(berth, cookie) {
  return (await fetch(`${berth.url}/api/v1/session`, { headers: { Cookie: cookie } })).status;
}

async function pageSessionStatus(page) {
  return page.evaluate(async () => (await fetch('/api/v1/session', { credentials: 'same-origin' })).status);
}

// The response to the next `method` request of `page` to `path` under /api/v1.
const apiResponse = (page, berth, method, path) => page.waitForResponse((r) => r.url() === `${berth.url}/api/v1${path}` && r.request().method() === method);

// A request to /api/v1 from the page, with its session cookie: the status and the JSON body.
async function pageApi(page, method, apiPath, body) {
  return page.evaluate(async ([m, p, b]) => {
    const init = { method: m, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (m !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      if (b !== undefined) init.body = JSON.stringify(b);
    }
    const r = await fetch(`/api/v1${p}`, init);
    const t = await r.text();
    return { status: r.status, body: t ? JSON.parse(t) : null };
  }, [method, apiPath, body]);
}

// The name and secret a repository user's dialog shows once (the Name and Secret fields).
async function readSecretDialog(page, title) {
  const dialog = dialogNamed(page, title);
  await dialog.waitFor({ timeout: 10000 });
  const name = await text(dialog.getByRole('group', { name: 'Name', exact: true }).locator('code'));
  const secret = await text(dialog.getByRole('group', { name: 'Secret', exact: true }).locator('code'));
  return { dialog, name, secret };
}

// On a repository's page: creates a repository user with push_pull on it from the users section
// and returns the name and secret its dialog shows once.
async function createPushUser(page, repo) {
  await section(page, 'Repository users').click();
  await buttonNamed(page.locator('#content .toolbar'), 'Create user').click();
  const create = dialogNamed(page, 'Create repository user');
  await create.waitFor();
  await create.getByLabel('Name (optional)').fill(`push${token(3)}`);
  const repoSelect = create.getByRole('combobox', { name: 'Repository', exact: true });
  await until('the repository choices', async () => (await repoSelect.locator(`option[value="${repo}"]`).count()) === 1);
  await repoSelect.selectOption(repo);
  await create.getByRole('combobox', { name: 'Permission' }).selectOption('push_pull');
  await buttonNamed(create, 'Create').click();
  const { dialog, name, secret } = await readSecretDialog(page, 'Repository user created');
  await buttonNamed(dialog, 'I have saved the secret').click();
  await dialog.waitFor({ state: 'detached' });
  await dismissToasts(page);
  return { name, secret };
}

// A small registry client over fetch (Basic credentials, or a token when the registry asks for
// one), to push what skopeo cannot make: an index of two platforms and a referrer.
class RegistryClient {
  constructor(berth, user, secret) {
    this.base = berth.url;
    this.basic = `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
    this.bearer = null;
  }

  async call(method, p, { body, headers = {} } = {}) {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const r = await fetch(`${this.base}${p}`, { method, body, headers: { ...headers, Authorization: this.bearer || this.basic }, redirect: 'manual' });
      const challenge = r.headers.get('www-authenticate') || '';
      if (r.status !== 401 || !challenge.startsWith('Bearer') || attempt) return r;
      const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      const url = new URL(params.realm);
      if (params.service) url.searchParams.set('service', params.service);
      if (params.scope) url.searchParams.set('scope', params.scope);
      const t = await (await fetch(url, { headers: { Authorization: this.basic } })).json();
      this.bearer = `Bearer ${t.token || t.access_token}`;
    }
    throw new Error('unreachable');
  }

  async blob(name, mediaType, data) {
    const digest = sha256(data);
    const r = await this.call('POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.ok(r.status === 201 || r.status === 202, `blob upload answered ${r.status}: ${await r.text()}`);
    if (r.status === 202) {
      const location = new URL(r.headers.get('location'), this.base);
      location.searchParams.set('digest', digest);
      const put = await this.call('PUT', location.pathname + location.search, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(put.status, 201, `blob commit: ${await put.text()}`);
    }
    return { mediaType, digest, size: data.length };
  }

  async manifest(name, reference, doc) {
    const data = Buffer.from(JSON.stringify(doc, null, 2));
    const r = await this.call('PUT', `/v2/${name}/manifests/${reference || sha256(data)}`, { body: data, headers: { 'Content-Type': doc.mediaType } });
    assert.equal(r.status, 201, `manifest PUT answered ${r.status}: ${await r.text()}`);
    return { mediaType: doc.mediaType, digest: sha256(data), size: data.length };
  }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('login_with_a_wrong_password_shows_the_servers_message', async ({ berth, newPage }) => {
  const page = await newPage();
  const answer = page.waitForResponse((r) => r.url() === `${berth.url}/api/v1/session` && r.request().method() === 'POST');
  await login(page, berth.url, 'admin', `${ADMIN_PASSWORD}-wrong`);
  const response = await answer;
  assert.ok(response.status() >= 400 && response.status() < 500, `POST /api/v1/session answered ${response.status()}`);
  const body = await response.json();
  assert.ok(body.error && body.error.message, `error body ${JSON.stringify(body)}`);
  const error = page.getByRole('alert');
  await error.waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await text(error), body.error.message);
  // Still on the login page, not logged in.
  assert.equal(await userMenu(page).count(), 0);
  assert.ok(await page.getByRole('heading', { name: 'Log in to the console' }).isVisible());
  const session = await page.evaluate(async () => (await fetch('/api/v1/session', { credentials: 'same-origin' })).status);
  assert.equal(session, 401);
  await checkA11y(page, 'the login page with an error');
  await screenshot(page, '01b-login-error');
});

test('console_end_to_end_push_pull_copy_delete', async ({ berth, newPage }) => {
  const page = await newPage();
  const host = berth.host;
  const repo = `web${token(3)}`;
  const image = 'team/app';
  const tag = 'v1';
  const skopeo = new Skopeo(host);

  // -- login ----------------------------------------------------------------------------------
  await page.goto(`${berth.url}/`);
  await page.getByRole('heading', { name: 'Log in to the console' }).waitFor();
  await checkA11y(page, 'the login page');
  await screenshot(page, '01-login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await buttonNamed(page, 'Log in').click();
  await userMenu(page).waitFor({ timeout: 15000 });
  assert.match(await text(userMenu(page)), /^AD\s*admin\s*System administrator/);
  // The focus is on the page's heading after the login (a route change).
  await until('the focus on the heading', () => focused(pageHeading(page)));
  assert.equal(await text(pageHeading(page)), 'Repositories');

  // -- create a repository: private, 1 GiB ----------------------------------------------------
  await buttonNamed(page.locator('.page-header'), 'Create repository').click();
  const createRepo = dialogNamed(page, 'Create repository');
  await createRepo.waitFor();
  await createRepo.getByLabel('Name', { exact: true }).fill(repo);
  // The access levels are a radio group named by its label.
  await createRepo.getByRole('radiogroup', { name: 'Access level' }).getByRole('radio', { name: /^Private/ }).check();
  await createRepo.getByRole('spinbutton', { name: 'Quota' }).fill('1');
  await createRepo.getByRole('combobox', { name: 'Quota unit' }).selectOption('GiB');
  await checkA11y(page, 'the create repository dialog');
  await buttonNamed(createRepo, 'Create').click();
  await createRepo.waitFor({ state: 'detached', timeout: 10000 });
  const repositories = tableNamed(page, 'Repositories');
  const repoRow = rowOf(repositories, repo);
  await repoRow.waitFor({ timeout: 10000 });
  const storage = await cellText(repoRow, 'Storage used');
  assert.match(storage, /^0 B of 1 GiB/, `storage cell of a new repository: ${storage}`);
  assert.equal(await cellText(repoRow, 'Access level'), 'Private');
  assert.equal(await cellText(repoRow, 'Images'), '0');
  await checkA11y(page, 'the repositories page');
  await screenshot(page, '02-repositories');

  // -- the repository page --------------------------------------------------------------------
  await repoRow.getByRole('link', { name: repo }).click();
  await until('the repository page', async () => (await text(pageHeading(page))) === repo);
  await until('the focus on the repository\'s heading', () => focused(pageHeading(page)));
  assert.equal(new URL(page.url()).hash, `#/repositories/${repo}/images`);
  await until('the Images section marked current', async () => (await section(page, 'Images').getAttribute('aria-current')) === 'page');
  const quota = page.locator('.stat').filter({ hasText: 'Quota' }).locator('.stat-value');
  assert.equal(await text(quota), '1 GiB');

  // -- a repository user with push_pull; the secret is shown once -----------------------------
  await section(page, 'Repository users').click();
  // The click changes the route; the sections are drawn again once the page has its data.
  await until('the Repository users section marked current', async () => (await section(page, 'Repository users').getAttribute('aria-current')) === 'page');
  const createUserButton = buttonNamed(page.locator('#content .toolbar'), 'Create user');
  await createUserButton.click();
  const createUser = dialogNamed(page, 'Create repository user');
  await createUser.waitFor();
  const userSuffix = `ci${token(3)}`;
  await createUser.getByLabel('Name (optional)').fill(userSuffix);
  await createUser.getByLabel('Description').fill('browser test pipeline');
  assert.ok(await createUser.getByRole('checkbox', { name: 'Never expires' }).isChecked(), 'a new user never expires by default');
  const permissions = createUser.getByRole('group', { name: 'Repository permissions' });
  const repoSelect = permissions.getByRole('combobox', { name: 'Repository', exact: true });
  await until('the repository choices', async () => (await repoSelect.locator(`option[value="${repo}"]`).count()) === 1);
  assert.equal(await repoSelect.count(), 1);
  await repoSelect.selectOption(repo);
  await permissions.getByRole('combobox', { name: 'Permission' }).selectOption('push_pull');
  await checkA11y(page, 'the create repository user dialog');
  await buttonNamed(createUser, 'Create').click();
  const { dialog: secretDialog, name: userName, secret } = await readSecretDialog(page, 'Repository user created');
  assert.match(userName, new RegExp(`^\\d+-${userSuffix}$`), `the user's name carries the account prefix: ${userName}`);
  assert.ok(secret.length >= 16, `a secret of some length: ${secret}`);
  assert.ok(await secretDialog.getByText(/will not be shown again/).isVisible());
  // The logins read the secret from standard input, for docker and podman (plain HTTP here).
  const clients = secretDialog.getByRole('tablist', { name: 'Client' });
  await clients.waitFor();
  const dockerLogin = secretDialog.getByRole('tabpanel', { name: 'Docker' }).locator('code', { hasText: 'docker login' });
  assert.equal(await text(dockerLogin), `echo "$REGISTRY_SECRET" | docker login ${host} --username ${userName} --password-stdin`);
  assert.ok(!(await text(secretDialog.getByRole('tabpanel', { name: 'Docker' }))).includes(secret), 'the secret is on no command line');
  await clients.getByRole('tab', { name: 'Podman' }).click();
  assert.equal(await clients.getByRole('tab', { name: 'Podman' }).getAttribute('aria-selected'), 'true');
  const podmanLogin = secretDialog.getByRole('tabpanel', { name: 'Podman' }).locator('code', { hasText: 'podman login' });
  assert.equal(await text(podmanLogin), `echo "$REGISTRY_SECRET" | podman login --tls-verify=false ${host} --username ${userName} --password-stdin`);
  // The arrow keys move between the tabs.
  await page.keyboard.press('ArrowLeft');
  assert.equal(await clients.getByRole('tab', { name: 'Docker' }).getAttribute('aria-selected'), 'true');
  await checkA11y(page, 'the secret dialog');
  await screenshot(page, '06-users-secret-dialog', { fullPage: false });
  await buttonNamed(secretDialog, 'Copy secret').click();
  await expectCopied(page, secret, 'the secret');
  await buttonNamed(secretDialog, 'I have saved the secret').click();
  await secretDialog.waitFor({ state: 'detached' });
  // The focus is back on what opened the first dialog.
  await until('the focus back on "Create user"', () => focused(createUserButton));
  const users = tableNamed(page, 'Repository users');
  const userRow = rowOf(users, userName);
  await userRow.waitFor({ timeout: 10000 });
  assert.match(await cellText(userRow, 'Repositories'), new RegExp(`^${repo}\\s*Push & pull$`));
  assert.equal(await cellText(userRow, 'Expires'), 'never');
  // The secret is shown once: no element shows it any more.
  assert.ok(!(await page.locator('body').innerText()).includes(secret), 'the secret stays on the page after its dialog closed');
  await checkA11y(page, 'the repository users page');
  await dismissToasts(page);

  // -- push with skopeo, using what the console showed ----------------------------------------
  const creds = `${userName}:${secret}`;
  const layout = writeOciLayout(path.join(RUN_DIR, 'layout'), tag);
  skopeo.push(layout.ref, `${repo}/${image}:${tag}`, creds);

  // -- the images tab: pull count 0, never pulled ---------------------------------------------
  await section(page, 'Images').click();
  const images = tableNamed(page, 'Images');
  const imageRow = rowOf(images, image);
  await imageRow.waitFor({ timeout: 10000 });
  assert.equal(await cellText(imageRow, 'Pulls'), '0');
  assert.equal(await cellText(imageRow, 'Last pulled'), 'never');
  assert.equal(await cellText(imageRow, 'Artifacts'), '1');
  assert.notEqual(await cellText(imageRow, 'Last modified'), '—', 'a pushed image has a last-modified time');
  // One image: "1 image", not "1 images".
  assert.equal(await text(page.locator('.pager-info')), '1–1 of 1 image');

  // The name filter is server-side and debounced.
  const filter = page.getByRole('searchbox', { name: 'Filter images by name' });
  await filter.fill('no-such-image');
  await page.getByText('No matching images').waitFor({ timeout: 10000 });
  assert.equal(await imageRow.count(), 0);
  await filter.fill('app');
  await imageRow.waitFor({ timeout: 10000 });
  await filter.fill('');
  await imageRow.waitFor({ timeout: 10000 });

  // -- push commands dialog: docker and podman, the secret from standard input ----------------
  const pushButton = buttonNamed(page.locator('#content .toolbar'), 'Push commands');
  await pushButton.click();
  const pushDialog = dialogNamed(page, 'Push an image');
  await pushDialog.waitFor();
  const docker = pushDialog.getByRole('tabpanel', { name: 'Docker' });
  await docker.waitFor();
  const commandOf = (panel, start) => panel.locator('code', { hasText: start });
  assert.equal(await text(commandOf(docker, 'docker login')), `echo "$REGISTRY_SECRET" | docker login ${host} --username REPOSITORY_USER --password-stdin`);
  assert.equal(await text(commandOf(docker, 'docker tag')), `docker tag SOURCE_IMAGE[:TAG] ${host}/${repo}/IMAGE[:TAG]`);
  const dockerPush = await text(commandOf(docker, 'docker push'));
  assert.equal(dockerPush, `docker push ${host}/${repo}/IMAGE[:TAG]`);
  assert.match(await text(docker.locator('.alert')), /insecure-registries/, 'docker\'s note for plain HTTP');
  await pushDialog.getByLabel('Image name (optional)').fill('team/app');
  await until('the image name in the commands', async () => (await commandOf(pushDialog.getByRole('tabpanel', { name: 'Docker' }), 'docker push').count()) === 1
    && (await text(commandOf(pushDialog.getByRole('tabpanel', { name: 'Docker' }), 'docker push'))).includes(`${repo}/team/app[:TAG]`));
  await pushDialog.getByRole('tab', { name: 'Podman' }).click();
  const podman = pushDialog.getByRole('tabpanel', { name: 'Podman' });
  assert.equal(await text(commandOf(podman, 'podman push')), `podman push --tls-verify=false ${host}/${repo}/team/app[:TAG]`);
  assert.equal(await text(commandOf(podman, 'podman login')), `echo "$REGISTRY_SECRET" | podman login --tls-verify=false ${host} --username REPOSITORY_USER --password-stdin`);
  await checkA11y(page, 'the push commands dialog');
  await screenshot(page, '04-push-command-dialog', { fullPage: false });
  await buttonNamed(podman, 'Copy the Podman push command').click();
  await expectCopied(page, `podman push --tls-verify=false ${host}/${repo}/team/app[:TAG]`, 'the podman push command');
  await buttonNamed(pushDialog, 'Done').click();
  await pushDialog.waitFor({ state: 'detached' });
  await until('the focus back on "Push commands"', () => focused(pushButton));

  // -- pull with skopeo; the console shows one pull and its time once stats are flushed --------
  skopeo.pull(`${repo}/${image}:${tag}`, `oci:${path.join(RUN_DIR, 'pulled')}:${tag}`, creds);
  let shown = null;
  await until('the image list to show 1 pull and a pull time', async () => {
    await page.reload();
    await imageRow.waitFor({ timeout: 10000 });
    shown = { count: await cellText(imageRow, 'Pulls'), time: await cellText(imageRow, 'Last pulled') };
    return shown.count === '1' && shown.time !== 'never' && shown.time !== '';
  }, { timeout: 30000, interval: 500, detail: () => shown });
  await checkA11y(page, 'the images page');
  await screenshot(page, '03-repository-images');

  // -- artifacts of the image -----------------------------------------------------------------
  await imageRow.getByRole('link', { name: image }).click();
  await until('the artifacts page', async () => (await text(pageHeading(page))) === image);
  assert.equal(new URL(page.url()).hash, `#/repositories/${repo}/images/team/app`);
  const artifacts = tableNamed(page, 'Artifacts');
  const short = layout.digest.slice(7, 19);
  const artifactRow = rowOf(artifacts, short);
  await artifactRow.waitFor({ timeout: 10000 });
  assert.equal(await artifacts.getByRole('row').count(), 2, 'a header and one artifact');
  assert.match(await cellText(artifactRow, 'Digest'), new RegExp(`^${short}`));
  assert.equal(await cellText(artifactRow, 'Tags'), tag);
  assert.equal(await cellText(artifactRow, 'Pulls'), '1');
  assert.notEqual(await cellText(artifactRow, 'Last pulled'), 'never');
  assert.match(await cellText(artifactRow, 'Size'), /^\d+(\.\d+)? (B|KiB|MiB)$/);
  assert.match(await text(page.locator('.page-subtitle')), /· 1 artifact$/, '"1 artifact", not "1 artifacts"');
  await checkA11y(page, 'the artifacts page');
  await screenshot(page, '05-artifacts');

  await buttonNamed(artifactRow, 'Copy full digest').click();
  await expectCopied(page, layout.digest, 'the digest');

  // The pull dialog of the image, for docker and podman.
  await buttonNamed(page.locator('.page-header'), 'Pull commands').click();
  const pullDialog = dialogNamed(page, `Pull ${image}`);
  await pullDialog.getByRole('tabpanel', { name: 'Docker' }).waitFor();
  assert.equal(await text(commandOf(pullDialog, 'docker pull')), `docker pull ${host}/${repo}/${image}[:TAG]`);
  await pullDialog.getByRole('tab', { name: 'Podman' }).click();
  assert.equal(await text(commandOf(pullDialog, 'podman pull')), `podman pull --tls-verify=false ${host}/${repo}/${image}[:TAG]`);
  await checkA11y(page, 'the pull commands dialog');
  await screenshot(page, '17-pull-commands-dialog', { fullPage: false });
  await page.keyboard.press('Escape');
  await pullDialog.waitFor({ state: 'detached' });

  // The action menu, by keyboard: Escape closes it and the focus returns to its button.
  const actions = artifactRow.getByRole('button', { name: /^Actions for / });
  await actions.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('menu').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('menu').waitFor({ state: 'detached' });
  assert.ok(await focused(actions), 'the focus is back on the menu\'s button');
  // The pull commands by tag, then by digest.
  await rowMenu(page, artifactRow, `Copy pull command (${tag})`);
  await expectCopied(page, `docker pull ${host}/${repo}/${image}:${tag}`, 'the pull command by tag');
  assert.ok(await focused(actions), 'the focus is back on the menu\'s button after an item');
  await rowMenu(page, artifactRow, 'Copy pull command (by digest)');
  await expectCopied(page, `docker pull ${host}/${repo}/${image}@${layout.digest}`, 'the pull command by digest');

  // -- the artifact, whole: its layers with sizes, its config, its pull commands --------------
  await rowMenu(page, artifactRow, 'Open');
  await until('the artifact page', async () => (await text(pageHeading(page))) === `${image}@sha256:${short}`);
  await until('the focus on the artifact\'s heading', () => focused(pageHeading(page)));
  const layers = tableNamed(page, 'Layers');
  assert.equal(await layers.getByRole('row').count(), 2, 'a header and one layer');
  assert.match(await cellText(layers.getByRole('row').nth(1), 'Type'), /tar\+gzip/);
  assert.match(await cellText(layers.getByRole('row').nth(1), 'Size'), /KiB$/);
  assert.match(await text(page.getByRole('region', { name: 'Config' })), /linux\/amd64/);
  const manifestJson = JSON.parse(await text(page.getByLabel('Manifest JSON', { exact: true })));
  assert.equal(manifestJson.mediaType, OCI_MANIFEST);
  const pull = page.getByRole('region', { name: 'Pull' });
  assert.equal(await text(pull.getByRole('tabpanel', { name: 'Docker' }).locator('code', { hasText: ':v1' })), `docker pull ${host}/${repo}/${image}:${tag}`);
  assert.equal(await text(page.getByRole('region', { name: 'Referrers' }).getByText('No referrers')), 'No referrers');
  await checkA11y(page, 'an image\'s artifact page');
  await page.setViewportSize({ width: 1280, height: 900 });
  await screenshot(page, '15-artifact-image');
  await page.setViewportSize({ width: 1440, height: 900 });
  // Reading it was no pull.
  await page.goBack();
  await artifactRow.waitFor({ timeout: 10000 });
  assert.equal(await cellText(artifactRow, 'Pulls'), '1');

  // Delete, with a confirmation.
  await rowMenu(page, artifactRow, 'Delete');
  const confirm = dialogNamed(page, 'Delete artifact?');
  await confirm.waitFor();
  assert.ok((await text(confirm)).includes(short), 'the confirmation names the artifact');
  await buttonNamed(confirm, 'Delete').click();
  await confirm.waitFor({ state: 'detached', timeout: 10000 });
  // It was the image's last: the image is gone, and the page goes back to the images list.
  await until('the repository\'s images list', async () => new URL(page.url()).hash === `#/repositories/${repo}/images`);
  await page.getByText('No images yet').waitFor({ timeout: 10000 });
  assert.equal(await tableNamed(page, 'Images').getByRole('row').filter({ hasText: image }).count(), 0);
  const imageCount = page.locator('.stat').filter({ hasText: 'Images' }).locator('.stat-value');
  await until('the image count to drop to 0', async () => (await text(imageCount)) === '0');
  const gone = skopeo.inspectRaw(`${repo}/${image}@${layout.digest}`, creds);
  assert.notEqual(gone.status, 0, `the deleted manifest is still served: ${gone.stdout}`);

  // -- history --------------------------------------------------------------------------------
  await page.goto(`${berth.url}/#/repositories/${repo}/history`);
  await dismissToasts(page);
  const history = tableNamed(page, 'History');
  const column = (name) => columnTexts(history, name);
  await until('the push and the delete in the history', async () => {
    const all = await column('Action');
    return all.some((a) => /push/i.test(a)) && all.some((a) => /delete/i.test(a));
  });
  const historyImages = await column('Image');
  assert.ok(historyImages.includes(image), `an event names the image: ${historyImages}`);
  const historyActions = await column('Action');
  assert.ok(historyActions.some((a) => /push/i.test(a)), `a push event: ${historyActions}`);
  assert.ok(historyActions.some((a) => /delete/i.test(a)), `a delete event: ${historyActions}`);
  const actors = await column('Actor');
  assert.ok(actors.includes(userName), `the push is by ${userName}: ${actors}`);
  assert.ok(actors.includes('admin'), `the delete is by admin: ${actors}`);
  await checkA11y(page, 'the history page');
  await screenshot(page, '07-history');

  // -- log out, from the user menu ------------------------------------------------------------
  await userMenu(page).click();
  await page.getByRole('menuitem', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in to the console' }).waitFor({ timeout: 10000 });
  const after = await page.evaluate(async () => (await fetch('/api/v1/session', { credentials: 'same-origin' })).status);
  assert.equal(after, 401);
});

test('repository_settings_and_repository_user_lifecycle', async ({ berth, newPage }) => {
  const page = await newPage();
  const skopeo = new Skopeo(berth.host);
  const repo = `ops${token(3)}`;
  await loginAsAdmin(page, berth.url);
  const repositories = tableNamed(page, 'Repositories');

  // -- create: a name the registry refuses is caught in the dialog, tied to its field ---------
  await buttonNamed(page.locator('.page-header'), 'Create repository').click();
  const dialog = dialogNamed(page, 'Create repository');
  await dialog.waitFor();
  const nameInput = dialog.getByLabel('Name', { exact: true });
  await nameInput.fill('Bad Name');
  await buttonNamed(dialog, 'Create').click();
  await until('the name marked invalid', async () => (await nameInput.getAttribute('aria-invalid')) === 'true');
  // The error's text is part of the field's description (aria-describedby).
  const description = await nameInput.evaluate((el) => el.getAttribute('aria-describedby').split(' ').map((id) => document.getElementById(id)?.textContent || '').join(' | '));
  assert.match(description, /Use lowercase letters and digits/, `the field's description: ${description}`);
  // Public, no limit.
  await nameInput.fill(repo);
  await dialog.getByRole('radio', { name: /^Public/ }).check();
  await dialog.getByRole('checkbox', { name: 'No limit' }).check();
  assert.ok(await dialog.getByRole('spinbutton', { name: 'Quota' }).isDisabled());
  // Referrers stay when their artifact is deleted.
  const referrers = dialog.getByRole('checkbox', { name: /Delete referrers/ });
  assert.ok(await referrers.isChecked(), 'referrers go with their artifact by default');
  await referrers.uncheck();
  const created = apiResponse(page, berth, 'POST', '/repositories');
  await buttonNamed(dialog, 'Create').click();
  const createdAnswer = await created;
  assert.equal(createdAnswer.status(), 201);
  assert.equal((await createdAnswer.json()).delete_orphan_referrers, false);
  assert.equal(JSON.parse(createdAnswer.request().postData()).delete_orphan_referrers, false);
  await dialog.waitFor({ state: 'detached', timeout: 10000 });
  const row = rowOf(repositories, repo);
  await row.waitFor({ timeout: 10000 });
  assert.equal(await cellText(row, 'Access level'), 'Public');
  assert.match(await cellText(row, 'Storage used'), /^0 B · no limit$/);
  assert.equal((await pageApi(page, 'GET', `/repositories/${repo}`)).body.delete_orphan_referrers, false);

  // -- the same name again: the server's conflict message, in the dialog ----------------------
  await buttonNamed(page.locator('.page-header'), 'Create repository').click();
  await dialog.waitFor();
  await nameInput.fill(repo);
  const conflict = page.waitForResponse((r) => r.url().endsWith('/api/v1/repositories') && r.request().method() === 'POST');
  await buttonNamed(dialog, 'Create').click();
  const answer = await conflict;
  assert.equal(answer.status(), 409);
  const message = (await answer.json()).error.message;
  await dialog.getByRole('alert').waitFor({ state: 'visible' });
  assert.equal(await text(dialog.getByRole('alert')), message);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  // -- edit: private, 500 MiB -----------------------------------------------------------------
  await row.getByRole('link', { name: repo }).click();
  await until('the repository page', async () => (await text(pageHeading(page))) === repo);
  await buttonNamed(page.locator('.repo-summary'), 'Edit').click();
  const edit = dialogNamed(page, `Edit ${repo}`);
  await edit.waitFor();
  assert.ok(await edit.getByRole('checkbox', { name: 'No limit' }).isChecked(), 'the dialog starts from the current settings');
  assert.ok(!(await edit.getByRole('checkbox', { name: /Delete referrers/ }).isChecked()), 'the dialog starts from the current referrers setting');
  await edit.getByRole('radio', { name: /^Private/ }).check();
  await edit.getByRole('checkbox', { name: 'No limit' }).uncheck();
  await edit.getByRole('spinbutton', { name: 'Quota' }).fill('500');
  await edit.getByRole('combobox', { name: 'Quota unit' }).selectOption('MiB');
  await buttonNamed(edit, 'Save changes').click();
  await edit.waitFor({ state: 'detached', timeout: 10000 });
  const quota = page.locator('.stat').filter({ hasText: 'Quota' }).locator('.stat-value');
  await until('the summary to show 500 MiB', async () => (await text(quota)) === '500 MiB');
  assert.equal(await text(page.locator('.repo-summary .summary-title-row .pill')), 'Private');
  await page.reload();
  await until('the saved quota after a reload', async () => (await text(quota)) === '500 MiB');
  assert.equal((await pageApi(page, 'GET', `/repositories/${repo}`)).body.delete_orphan_referrers, false, 'an edit of other settings keeps referrers');

  // -- a user with an expiry date and a long description: the table fits 1280 px --------------
  await page.setViewportSize({ width: 1280, height: 900 });
  await section(page, 'Repository users').click();
  await page.getByText('No repository users').waitFor({ timeout: 10000 });
  await buttonNamed(page.locator('#content .toolbar'), 'Create user').click();
  const create = dialogNamed(page, 'Create repository user');
  await create.waitFor();
  const suffix = `bot${token(3)}`;
  await create.getByLabel('Name (optional)').fill(suffix);
  await create.getByRole('checkbox', { name: 'Never expires' }).uncheck();
  const expiry = isoDate(30);
  await create.getByLabel('Expiration date').fill(expiry);
  const longDescription = `${'A robot that deploys the nightly builds of every service to the staging cluster and reports back to the release channel; '.repeat(3)}ask ops before changing it.`;
  await create.getByLabel('Description').fill(longDescription);
  const repoSelect = create.getByRole('combobox', { name: 'Repository', exact: true });
  await until('the repository choices', async () => (await repoSelect.locator(`option[value="${repo}"]`).count()) === 1);
  await create.getByRole('combobox', { name: 'Permission' }).selectOption('pull');
  await buttonNamed(create, 'Create').click();
  const shown = await readSecretDialog(page, 'Repository user created');
  const { name, secret } = shown;
  await buttonNamed(shown.dialog, 'I have saved the secret').click();
  await shown.dialog.waitFor({ state: 'detached' });
  const users = tableNamed(page, 'Repository users');
  const userRow = rowOf(users, name);
  await userRow.waitFor({ timeout: 10000 });
  assert.ok((await (await cell(userRow, 'Expires')).locator('[title]').getAttribute('title')).startsWith(`${expiry}T00:00:00`),
    'the expiry is the chosen date, midnight UTC');
  assert.match(await cellText(userRow, 'Repositories'), /Pull only$/);
  // Dates and the action menu stay on screen; the description wraps, cut after two lines.
  await dismissToasts(page);
  for (const [what, box] of [
    ['the Created cell', await (await cell(userRow, 'Created')).boundingBox()],
    ['the action menu', await userRow.getByRole('button', { name: /^Actions for / }).boundingBox()],
    ['the table', await users.boundingBox()],
  ]) assert.ok(box && box.x + box.width <= 1280, `${what} ends at ${box && box.x + box.width} px, past 1280`);
  const scroll = await users.evaluate((t) => t.parentElement.scrollWidth - t.parentElement.clientWidth);
  assert.equal(scroll, 0, 'the users table does not scroll sideways at 1280 px');
  assert.equal(await (await cell(userRow, 'Description')).locator('[title]').getAttribute('title'), longDescription, 'the whole description on hover');
  await checkA11y(page, 'the repository users page with a long description');
  await screenshot(page, '16-users-long-description');
  await page.setViewportSize({ width: 1440, height: 900 });
  assert.ok(skopeo.login(name, secret), 'a user before its expiry logs in');

  // -- edit: expired yesterday, so locked -----------------------------------------------------
  await rowMenu(page, userRow, 'Edit');
  const editUser = dialogNamed(page, `Edit ${name}`);
  await editUser.waitFor();
  assert.equal(await editUser.getByLabel('Expiration date').inputValue(), expiry);
  await editUser.getByLabel('Expiration date').fill(isoDate(-1));
  await editUser.getByLabel('Description').fill('locked on purpose');
  await buttonNamed(editUser, 'Save changes').click();
  await editUser.waitFor({ state: 'detached', timeout: 10000 });
  await until('the user locked', async () => /^Locked \(expired\)/.test(await cellText(userRow, 'Expires')));
  assert.equal(await cellText(userRow, 'Description'), 'locked on purpose');
  assert.ok(!skopeo.login(name, secret), 'an expired user cannot log in');

  // -- edit: never expires, unlocked ----------------------------------------------------------
  await rowMenu(page, userRow, 'Edit');
  await editUser.waitFor();
  await editUser.getByRole('checkbox', { name: 'Never expires' }).check();
  await buttonNamed(editUser, 'Save changes').click();
  await editUser.waitFor({ state: 'detached', timeout: 10000 });
  await until('the user unlocked', async () => (await cellText(userRow, 'Expires')) === 'never');
  assert.ok(skopeo.login(name, secret), 'an extended user logs in again');

  // -- refresh the secret: the new one is shown once, the old one stops working ---------------
  await rowMenu(page, userRow, 'Refresh secret');
  const confirmRefresh = dialogNamed(page, `Refresh the secret of ${name}?`);
  await buttonNamed(confirmRefresh, 'Refresh secret').click();
  const fresh = await readSecretDialog(page, 'New secret');
  assert.equal(fresh.name, name);
  assert.notEqual(fresh.secret, secret);
  await buttonNamed(fresh.dialog, 'I have saved the secret').click();
  assert.ok(!skopeo.login(name, secret), 'the old secret stops working');
  assert.ok(skopeo.login(name, fresh.secret), 'the new secret works');

  // -- delete the user, then the (empty) repository -------------------------------------------
  await rowMenu(page, userRow, 'Delete');
  await buttonNamed(dialogNamed(page, `Delete ${name}?`), 'Delete').click();
  await userRow.waitFor({ state: 'detached', timeout: 10000 });
  await page.getByText('No repository users').waitFor({ timeout: 10000 });
  assert.ok(!skopeo.login(name, fresh.secret), 'a deleted user cannot log in');

  await buttonNamed(page.locator('.repo-summary'), 'Delete').click();
  await buttonNamed(dialogNamed(page, `Delete repository ${repo}?`), 'Delete').click();
  await until('the repositories page', async () => new URL(page.url()).hash === '#/repositories');
  await repositories.getByRole('row').first().waitFor({ state: 'attached', timeout: 10000 }).catch(() => {});
  assert.equal(await rowOf(repositories, repo).count(), 0);
});

test('image_delete_and_referrers_setting', async ({ berth, newPage }) => {
  const page = await newPage();
  const skopeo = new Skopeo(berth.host);
  const repo = `img${token(3)}`;
  const doomed = 'tools/doomed';
  const kept = 'tools/kept';
  const images = tableNamed(page, 'Images');
  const imageRow = (image) => rowOf(images, image);
  const imageCount = page.locator('.stat').filter({ hasText: 'Images' }).locator('.stat-value');
  const summaryStorage = page.locator('.repo-summary .stat-wide');
  const repository = async () => {
    const r = await pageApi(page, 'GET', `/repositories/${repo}`);
    assert.equal(r.status, 200, `GET /api/v1/repositories/${repo}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const imagePath = (image) => `/repositories/${repo}/images?${new URLSearchParams({ name: image })}`;
  await loginAsAdmin(page, berth.url);

  // -- a repository with the defaults: private, 10 GiB, referrers go with their artifact ------
  await buttonNamed(page.locator('.page-header'), 'Create repository').click();
  const create = dialogNamed(page, 'Create repository');
  await create.waitFor();
  await create.getByLabel('Name', { exact: true }).fill(repo);
  assert.ok(await create.getByRole('checkbox', { name: /Delete referrers/ }).isChecked(), 'referrers go with their artifact by default');
  await buttonNamed(create, 'Create').click();
  await create.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal((await repository()).delete_orphan_referrers, true);
  await rowOf(tableNamed(page, 'Repositories'), repo).getByRole('link', { name: repo }).click();
  await until('the repository page', async () => (await text(pageHeading(page))) === repo);

  // -- two images pushed with skopeo: one with two artifacts (two tags), one with one ---------
  const user = await createPushUser(page, repo);
  const creds = `${user.name}:${user.secret}`;
  const pushed = {};
  for (const [image, tag] of [[doomed, 'v1'], [doomed, 'v2'], [kept, 'v1']]) {
    const layout = writeOciLayout(path.join(RUN_DIR, `layout-${image.replace('/', '-')}-${tag}`), tag);
    skopeo.push(layout.ref, `${repo}/${image}:${tag}`, creds);
    pushed[`${image}:${tag}`] = layout;
  }
  await section(page, 'Images').click();
  await imageRow(doomed).waitFor({ timeout: 10000 });
  await imageRow(kept).waitFor({ timeout: 10000 });
  assert.equal(await cellText(imageRow(doomed), 'Artifacts'), '2');
  assert.equal(await cellText(imageRow(kept), 'Artifacts'), '1');
  await until('the image count 2', async () => (await text(imageCount)) === '2');
  assert.equal(await text(page.locator('.pager-info')), '1–2 of 2 images');
  const before = await repository();
  assert.equal(before.image_count, 2);
  const storageBefore = await text(summaryStorage);

  // -- delete an image from its row: the confirmation names it, its artifacts and tags --------
  await rowMenu(page, imageRow(doomed), 'Delete image');
  const confirm = dialogNamed(page, `Delete image ${doomed}?`);
  await confirm.waitFor();
  const confirmText = await text(confirm);
  assert.ok(confirmText.includes(`${repo}/${doomed}`), confirmText);
  assert.ok(confirmText.includes('2 artifacts'), confirmText);
  assert.match(confirmText, /tags/, 'the confirmation says the tags go too');
  await checkA11y(page, 'the delete image dialog');
  await screenshot(page, '10-delete-image-dialog', { fullPage: false });
  const deleted = apiResponse(page, berth, 'DELETE', imagePath(doomed));
  await buttonNamed(confirm, 'Delete image').click();
  assert.equal((await deleted).status(), 204);
  await confirm.waitFor({ state: 'detached', timeout: 10000 });
  await imageRow(doomed).waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await imageRow(kept).count(), 1, 'the other image stays');
  await until('the image count to drop to 1', async () => (await text(imageCount)) === '1');
  await until('the summary\'s storage to drop', async () => (await text(summaryStorage)) !== storageBefore);
  const after = await repository();
  assert.equal(after.image_count, 1);
  const freed = pushed[`${doomed}:v1`].size + pushed[`${doomed}:v2`].size;
  assert.ok(before.used_bytes - after.used_bytes >= freed * 0.9,
    `usage drops by the deleted image's artifacts at once: ${before.used_bytes} -> ${after.used_bytes} (pushed ${freed})`);
  const listed = await pageApi(page, 'GET', `/repositories/${repo}/images`);
  assert.deepEqual(listed.body.items.map((i) => i.name), [kept]);
  for (const tag of ['v1', 'v2']) {
    const gone = skopeo.inspectRaw(`${repo}/${doomed}:${tag}`, creds);
    assert.notEqual(gone.status, 0, `${doomed}:${tag} is still served: ${gone.stdout}`);
  }
  assert.equal(skopeo.inspectRaw(`${repo}/${kept}:v1`, creds).status, 0, 'the other image is still served');

  // -- the referrers setting, off and on in the repository's settings -------------------------
  const edit = dialogNamed(page, `Edit ${repo}`);
  for (const on of [false, true]) {
    await buttonNamed(page.locator('.repo-summary'), 'Edit').click();
    await edit.waitFor();
    const box = edit.getByRole('checkbox', { name: /Delete referrers/ });
    assert.equal(await box.isChecked(), !on, 'the dialog starts from the current referrers setting');
    await box.setChecked(on);
    const saved = apiResponse(page, berth, 'PATCH', `/repositories/${repo}`);
    await buttonNamed(edit, 'Save changes').click();
    const answer = await saved;
    assert.equal(answer.status(), 200);
    assert.equal(JSON.parse(answer.request().postData()).delete_orphan_referrers, on);
    assert.equal((await answer.json()).delete_orphan_referrers, on);
    await edit.waitFor({ state: 'detached', timeout: 10000 });
    const now = await repository();
    assert.equal(now.delete_orphan_referrers, on, `the repository follows the setting (${on})`);
    assert.equal(now.access_level, 'private', 'the other settings stay');
    assert.equal(now.quota_bytes, 10 * 1024 ** 3, 'the other settings stay');
  }

  // -- an image deleted meanwhile elsewhere: the server's 404 message, in the dialog -----------
  await rowMenu(page, imageRow(kept), 'Delete image');
  const confirmKept = dialogNamed(page, `Delete image ${kept}?`);
  await confirmKept.waitFor();
  assert.ok((await text(confirmKept)).includes('its 1 artifact and'), '"1 artifact", not "1 artifacts"');
  assert.equal((await pageApi(page, 'DELETE', imagePath(kept))).status, 204, 'the image is deleted through the API');
  const refused = apiResponse(page, berth, 'DELETE', imagePath(kept));
  await buttonNamed(confirmKept, 'Delete image').click();
  const refusal = await refused;
  assert.equal(refusal.status(), 404);
  const refusalMessage = (await refusal.json()).error.message;
  await confirmKept.getByRole('alert').waitFor({ state: 'visible' });
  assert.equal(await text(confirmKept.getByRole('alert')), refusalMessage);
  await page.keyboard.press('Escape');
  await confirmKept.waitFor({ state: 'detached' });
  // Refresh shows the list and the summary as they are now: no image.
  await buttonNamed(page.locator('#content .toolbar'), 'Refresh').click();
  await imageRow(kept).waitFor({ state: 'detached', timeout: 10000 });
  await page.getByText('No images yet').waitFor({ timeout: 10000 });
  await until('the image count to drop to 0', async () => (await text(imageCount)) === '0');
  assert.equal((await repository()).image_count, 0);

  // -- with no image left, the repository can be deleted --------------------------------------
  await dismissToasts(page);
  await buttonNamed(page.locator('.repo-summary'), 'Delete').click();
  const confirmRepo = dialogNamed(page, `Delete repository ${repo}?`);
  await confirmRepo.waitFor();
  const removed = apiResponse(page, berth, 'DELETE', `/repositories/${repo}`);
  await buttonNamed(confirmRepo, 'Delete').click();
  assert.equal((await removed).status(), 204);
  await until('the repositories page', async () => new URL(page.url()).hash === '#/repositories');
  assert.equal((await pageApi(page, 'GET', `/repositories/${repo}`)).status, 404);
});

test('console_users_lifecycle_and_password_change', async ({ berth, newPage, newContextPage }) => {
  const page = await newPage();
  const username = `dev-${token(3)}@example.com`;
  const [first, second, third] = ['first', 'second', 'third'].map((p) => `${p}-${token(6)}`);
  const consoleUsers = tableNamed(page, 'Console users');
  const stateOf = (row) => cellText(row, 'State');
  await loginAsAdmin(page, berth.url);

  // -- the page, from the sidebar: the system administrators ----------------------------------
  const nav = page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Console users' });
  await nav.click();
  await until('the console users page', async () => (await text(pageHeading(page))) === 'Console users');
  await until('the focus on the heading', () => focused(pageHeading(page)));
  assert.equal(new URL(page.url()).hash, '#/console-users');
  await until('the sidebar link marked current', async () => (await nav.getAttribute('aria-current')) === 'page');
  const adminRow = rowOf(consoleUsers, 'System administrator');
  await adminRow.waitFor({ timeout: 10000 });
  assert.match(await cellText(adminRow, 'Username'), /^admin/);
  assert.equal(await stateOf(adminRow), 'Active');
  const show = page.getByLabel('Show');
  assert.equal(await show.inputValue(), '');

  // -- the administrator cannot disable itself: the server's 409, in the dialog ---------------
  await rowMenu(page, adminRow, 'Disable');
  const confirmSelf = dialogNamed(page, 'Disable admin?');
  await confirmSelf.waitFor();
  const refused = apiResponse(page, berth, 'PATCH', '/console-users/admin');
  await buttonNamed(confirmSelf, 'Disable').click();
  const refusal = await refused;
  assert.equal(refusal.status(), 409);
  const refusalMessage = (await refusal.json()).error.message;
  await confirmSelf.getByRole('alert').waitFor({ state: 'visible' });
  assert.equal(await text(confirmSelf.getByRole('alert')), refusalMessage);
  await page.keyboard.press('Escape');
  await confirmSelf.waitFor({ state: 'detached' });
  assert.equal(await stateOf(adminRow), 'Active');

  // -- create a console user of the default account -------------------------------------------
  await buttonNamed(page.locator('.page-header'), 'Create console user').click();
  const create = dialogNamed(page, 'Create console user');
  await create.waitFor();
  await create.getByLabel('Username').fill(username);
  await create.getByLabel('Account').selectOption(DEFAULT_ACCOUNT);
  await create.getByLabel('Password', { exact: true }).fill(first);
  const repeat = create.getByLabel('Repeat the password');
  await repeat.fill(`${first}-typo`);
  await buttonNamed(create, 'Create').click();
  await create.getByRole('alert').waitFor({ state: 'visible' });
  assert.match(await text(create.getByRole('alert')), /differ/, 'two different passwords are caught in the dialog');
  // The error is tied to the field it is about.
  assert.equal(await repeat.getAttribute('aria-invalid'), 'true');
  const alertId = await create.getByRole('alert').getAttribute('id');
  assert.ok((await repeat.getAttribute('aria-describedby')).split(' ').includes(alertId), 'the repeated password is described by the error');
  assert.ok(await focused(repeat), 'the focus is on the field in error');
  await checkA11y(page, 'the create console user dialog with an error');
  await repeat.fill(first);
  const created = apiResponse(page, berth, 'POST', '/console-users');
  await buttonNamed(create, 'Create').click();
  assert.equal((await created).status(), 201);
  await create.waitFor({ state: 'detached', timeout: 10000 });
  // The list switched to the new user's account.
  const userRow = rowOf(consoleUsers, username);
  await userRow.waitFor({ timeout: 10000 });
  assert.equal(await show.inputValue(), DEFAULT_ACCOUNT);
  assert.equal(new URL(page.url()).hash, `#/console-users?account=${DEFAULT_ACCOUNT}`);
  assert.equal(await cellText(userRow, 'Username'), username);
  assert.equal(await cellText(userRow, 'Role'), 'Console user');
  assert.match(await cellText(userRow, 'Account'), new RegExp(`default.*· ${DEFAULT_ACCOUNT}$`), 'the account is named');
  assert.equal(await stateOf(userRow), 'Active');
  assert.equal(await rowOf(consoleUsers, 'System administrator').count(), 0, 'the administrators are not in the account\'s list');
  const before = await apiLogin(berth, username, first);
  assert.equal(before.status, 200, `the new user logs in: ${JSON.stringify(before.body)}`);
  await checkA11y(page, 'the console users page');
  await screenshot(page, '08-console-users');

  // -- reset its password: its session ends, the old password stops working -------------------
  await rowMenu(page, userRow, 'Reset password');
  const reset = dialogNamed(page, `Reset the password of ${username}`);
  await reset.waitFor();
  await reset.getByLabel('New password', { exact: true }).fill(second);
  await reset.getByLabel('Repeat the new password').fill(second);
  await buttonNamed(reset, 'Reset password').click();
  await reset.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await sessionStatus(berth, before.cookie), 401, 'a reset ends the user\'s sessions');
  assert.equal((await apiLogin(berth, username, first)).status, 401, 'the old password no longer works');

  // -- disable it: logging in fails with the server's message ---------------------------------
  await rowMenu(page, userRow, 'Disable');
  const confirm = dialogNamed(page, `Disable ${username}?`);
  await confirm.waitFor();
  await buttonNamed(confirm, 'Disable').click();
  await confirm.waitFor({ state: 'detached', timeout: 10000 });
  await until('the user disabled', async () => (await stateOf(userRow)) === 'Disabled');

  const userPage = await newContextPage();
  const refusedLogin = apiResponse(userPage, berth, 'POST', '/session');
  await login(userPage, berth.url, username, second);
  const disabledAnswer = await refusedLogin;
  assert.equal(disabledAnswer.status(), 401);
  const disabledMessage = (await disabledAnswer.json()).error.message;
  assert.match(disabledMessage, /disabled/, `the refusal says why: ${disabledMessage}`);
  await userPage.getByRole('alert').waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await text(userPage.getByRole('alert')), disabledMessage);

  // -- enable it; it logs in, in another browser: no console users page for it ----------------
  await rowMenu(page, userRow, 'Enable');
  await until('the user enabled', async () => (await stateOf(userRow)) === 'Active');
  await login(userPage, berth.url, username, second);
  await userMenu(userPage).waitFor({ timeout: 15000 });
  assert.ok((await text(userMenu(userPage))).includes(username));
  assert.equal(await userPage.getByRole('navigation', { name: 'Administration' }).count(), 0, 'a console user has no administration pages in the sidebar');
  await userPage.goto(`${berth.url}/#/console-users`);
  const adminOnly = userPage.getByRole('heading', { name: /only the system administrator/i });
  await adminOnly.waitFor({ timeout: 10000 });
  assert.equal(await tableNamed(userPage, 'Console users').count(), 0);
  await userPage.goto(`${berth.url}/#/accounts`);
  await userPage.getByRole('heading', { name: 'Only the system administrator manages accounts' }).waitFor({ timeout: 10000 });
  await checkA11y(userPage, 'the accounts page as a console user');

  // -- in a second session of its own, it changes its password from the user menu -------------
  const otherPage = await newContextPage();
  await login(otherPage, berth.url, username, second);
  await userMenu(otherPage).waitFor({ timeout: 15000 });
  await userMenu(otherPage).click();
  await otherPage.getByRole('menuitem', { name: 'Change password' }).click();
  const change = dialogNamed(otherPage, 'Change password');
  await change.waitFor();
  // A wrong current password: the server's message, in the dialog; still logged in.
  await change.getByLabel('Current password').fill(`${second}-wrong`);
  await change.getByLabel('New password', { exact: true }).fill(third);
  await change.getByLabel('Repeat the new password').fill(third);
  const wrong = apiResponse(otherPage, berth, 'PUT', '/session/password');
  await buttonNamed(change, 'Change password').click();
  const wrongAnswer = await wrong;
  assert.equal(wrongAnswer.status(), 403);
  const wrongMessage = (await wrongAnswer.json()).error.message;
  await change.getByRole('alert').waitFor({ state: 'visible' });
  assert.equal(await text(change.getByRole('alert')), wrongMessage);
  await checkA11y(otherPage, 'the change password dialog');
  await screenshot(otherPage, '09-change-password-dialog', { fullPage: false });
  assert.equal(await pageSessionStatus(otherPage), 200, 'a wrong current password ends nothing');
  // The right one.
  await change.getByLabel('Current password').fill(second);
  const changed = apiResponse(otherPage, berth, 'PUT', '/session/password');
  await buttonNamed(change, 'Change password').click();
  assert.equal((await changed).status(), 204);
  await change.waitFor({ state: 'detached', timeout: 10000 });
  const notice = toastWith(otherPage, 'other sessions');
  await notice.waitFor({ timeout: 5000 });
  assert.match(await text(notice), /API tokens were ended/);
  // The focus went back to the user menu's button, which opened the dialog.
  assert.ok(await focused(userMenu(otherPage)), 'the focus is back on the user menu');
  // This page stays logged in (the answer set a new cookie) ...
  assert.equal(await pageSessionStatus(otherPage), 200, 'the page that changed the password stays logged in');
  await otherPage.reload();
  await userMenu(otherPage).waitFor({ timeout: 10000 });
  assert.ok((await text(userMenu(otherPage))).includes(username));
  // ... and the first session ended: the API answers 401, a reload shows the login.
  assert.equal(await pageSessionStatus(userPage), 401, 'the other session ended');
  await userPage.reload();
  await userPage.getByRole('heading', { name: 'Log in to the console' }).waitFor({ timeout: 10000 });
  assert.equal(await userMenu(userPage).count(), 0);
  assert.equal((await apiLogin(berth, username, second)).status, 401, 'the old password no longer works');
  const after = await apiLogin(berth, username, third);
  assert.equal(after.status, 200, `the new password works: ${JSON.stringify(after.body)}`);

  // -- delete it, with a confirmation naming it: its sessions end -----------------------------
  await dismissToasts(page);
  await rowMenu(page, userRow, 'Delete');
  const confirmDelete = dialogNamed(page, `Delete console user ${username}?`);
  await confirmDelete.waitFor();
  assert.ok((await text(confirmDelete)).includes(username));
  await buttonNamed(confirmDelete, 'Delete').click();
  await confirmDelete.waitFor({ state: 'detached', timeout: 10000 });
  await userRow.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await pageSessionStatus(otherPage), 401, 'a deleted user\'s session ends');
  assert.equal(await sessionStatus(berth, after.cookie), 401);
  assert.equal((await apiLogin(berth, username, third)).status, 401, 'a deleted user cannot log in');
});

test('accounts_and_api_tokens_pages', async ({ berth, newPage }) => {
  const page = await newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  const accountName = `team-${token(3)}`;
  await loginAsAdmin(page, berth.url);

  // -- accounts: the list, and a new one ------------------------------------------------------
  const nav = page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Accounts' });
  await nav.click();
  await until('the accounts page', async () => (await text(pageHeading(page))) === 'Accounts');
  await until('the focus on the heading', () => focused(pageHeading(page)));
  await until('the sidebar link marked current', async () => (await nav.getAttribute('aria-current')) === 'page');
  const accounts = tableNamed(page, 'Accounts');
  const defaultRow = rowOf(accounts, DEFAULT_ACCOUNT);
  await defaultRow.waitFor({ timeout: 10000 });
  assert.equal(await cellText(defaultRow, 'Name'), 'default');
  const createButton = buttonNamed(page.locator('.page-header'), 'Create account');
  await createButton.click();
  const create = dialogNamed(page, 'Create account');
  await create.waitFor();
  // A missing name is caught and tied to its field.
  await buttonNamed(create, 'Create').click();
  await create.getByRole('alert').waitFor({ state: 'visible' });
  assert.equal(await create.getByLabel('Name').getAttribute('aria-invalid'), 'true');
  await create.getByLabel('Name').fill(accountName);
  const id = await create.getByLabel('Account ID').inputValue();
  assert.ok(Number(id) > Number(DEFAULT_ACCOUNT), `the next free id is suggested: ${id}`);
  const created = apiResponse(page, berth, 'POST', '/accounts');
  await buttonNamed(create, 'Create').click();
  assert.equal((await created).status(), 201);
  await create.waitFor({ state: 'detached', timeout: 10000 });
  assert.ok(await focused(createButton), 'the focus is back on "Create account"');
  const row = rowOf(accounts, accountName);
  await row.waitFor({ timeout: 10000 });
  assert.equal(await cellText(row, 'ID'), id);
  assert.match(await text(page.locator('.pager-info')), /of 2 accounts$/);
  await checkA11y(page, 'the accounts page');
  await dismissToasts(page);
  await screenshot(page, '11-accounts');
  // Its console users, from its menu.
  await rowMenu(page, row, 'Show its console users');
  await until('the console users of the account', async () => new URL(page.url()).hash === `#/console-users?account=${id}`);
  await page.getByText(`No console users in ${accountName}`).waitFor({ timeout: 10000 });

  // -- API tokens: create (shown once), use, revoke -------------------------------------------
  const tokensNav = page.getByRole('navigation', { name: 'Developers' }).getByRole('link', { name: 'API tokens' });
  await tokensNav.click();
  await until('the API tokens page', async () => (await text(pageHeading(page))) === 'API tokens');
  await until('the sidebar link marked current', async () => (await tokensNav.getAttribute('aria-current')) === 'page');
  await page.getByText('No API tokens').waitFor({ timeout: 10000 });
  await buttonNamed(page.locator('.page-header'), 'Create API token').click();
  const createToken = dialogNamed(page, 'Create API token');
  await createToken.waitFor();
  await createToken.getByLabel('Description').fill('nightly report script');
  await createToken.getByRole('checkbox', { name: 'Never expires' }).uncheck();
  const expiry = isoDate(60);
  await createToken.getByLabel('Expiration date').fill(expiry);
  await checkA11y(page, 'the create API token dialog');
  const madeAnswer = apiResponse(page, berth, 'POST', '/api-tokens');
  await buttonNamed(createToken, 'Create').click();
  const made = await madeAnswer;
  assert.equal(made.status(), 201);
  assert.equal(JSON.parse(made.request().postData()).expires_at, `${expiry}T00:00:00Z`);
  const shown = dialogNamed(page, 'API token created');
  await shown.waitFor({ timeout: 10000 });
  const secret = await text(shown.getByRole('group', { name: 'Token' }).locator('code'));
  assert.match(secret, /^berth_/);
  assert.equal(secret, (await made.json()).token);
  await checkA11y(page, 'the API token dialog');
  await dismissToasts(page);
  await screenshot(page, '13-api-token-created', { fullPage: false });
  await buttonNamed(shown, 'Copy token').click();
  await expectCopied(page, secret, 'the API token');
  await buttonNamed(shown, 'I have saved the token').click();
  await shown.waitFor({ state: 'detached' });
  const tokens = tableNamed(page, 'API tokens');
  const tokenRow = rowOf(tokens, 'nightly report script');
  await tokenRow.waitFor({ timeout: 10000 });
  assert.ok(!(await page.locator('body').innerText()).includes(secret), 'the token is shown once');
  assert.equal(await text(page.locator('.pager-info')), '1–1 of 1 token');
  const byToken = await fetch(`${berth.url}/api/v1/repositories`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(byToken.status, 200, 'the token calls the API');
  await checkA11y(page, 'the API tokens page');
  await screenshot(page, '12-api-tokens');
  await rowMenu(page, tokenRow, 'Revoke');
  const revoke = dialogNamed(page, 'Revoke this API token?');
  await revoke.waitFor();
  assert.ok((await text(revoke)).includes('nightly report script'));
  await buttonNamed(revoke, 'Revoke').click();
  await tokenRow.waitFor({ state: 'detached', timeout: 10000 });
  const afterRevoke = await fetch(`${berth.url}/api/v1/repositories`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(afterRevoke.status, 401, 'a revoked token is refused');
});

test('registries_page_and_a_proxy_repository', async ({ berth, newPage }) => {
  const page = await newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  const name = `hub${token(3)}`;
  const secret = `pw-${token(8)}`;
  await loginAsAdmin(page, berth.url);

  // -- the registries page: add one with a username and password ------------------------------
  const nav = page.getByRole('navigation', { name: 'Container registry' }).getByRole('link', { name: 'Registries' });
  await nav.click();
  await until('the registries page', async () => (await text(pageHeading(page))) === 'Registries');
  await until('the sidebar link marked current', async () => (await nav.getAttribute('aria-current')) === 'page');
  await buttonNamed(page.locator('.page-header'), 'Add registry').click();
  const create = dialogNamed(page, 'Add registry');
  await create.waitFor();
  await create.getByLabel('Name', { exact: true }).fill(name);
  await create.getByLabel('URL', { exact: true }).fill('https://user:pw@registry.example.com');
  await create.getByLabel('Username', { exact: true }).fill('bot');
  await create.getByLabel('Password', { exact: true }).fill(secret);
  // A URL with credentials in it is refused on its field.
  await buttonNamed(create, 'Add').click();
  await create.getByRole('alert').waitFor({ state: 'visible' });
  assert.equal(await create.getByLabel('URL', { exact: true }).getAttribute('aria-invalid'), 'true');
  await create.getByLabel('URL', { exact: true }).fill('https://Registry.Example.com/');
  await checkA11y(page, 'the add registry dialog');
  const created = apiResponse(page, berth, 'POST', '/registries');
  await buttonNamed(create, 'Add').click();
  const answer = await created;
  assert.equal(answer.status(), 201);
  assert.ok(!(await answer.text()).includes(secret), 'the password is not in the answer');
  await create.waitFor({ state: 'detached', timeout: 10000 });
  const registries = tableNamed(page, 'Remote registries');
  const row = rowOf(registries, name);
  await row.waitFor({ timeout: 10000 });
  assert.equal(await cellText(row, 'URL'), 'https://registry.example.com');
  assert.match(await cellText(row, 'Username'), /^bot · password set$/);
  assert.equal(await cellText(row, 'TLS'), 'Verified');
  assert.ok(!(await text(page.locator('#content'))).includes(secret));
  await checkA11y(page, 'the registries page');
  await screenshot(page, '18-registries');

  // -- edit: point it at this berth as its administrator, accept unverified certificates ------
  await rowMenu(page, row, 'Edit');
  const edit = dialogNamed(page, `Edit registry ${name}`);
  await edit.waitFor();
  assert.equal(await edit.getByLabel('Password', { exact: true }).inputValue(), '', 'the password is never filled in');
  await edit.getByLabel('URL', { exact: true }).fill(berth.url);
  await edit.getByLabel('Username', { exact: true }).fill('admin');
  await edit.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
  await edit.getByRole('checkbox', { name: /^Accept TLS certificates/ }).check();
  await checkA11y(page, 'the edit registry dialog');
  await buttonNamed(edit, 'Save changes').click();
  await edit.waitFor({ state: 'detached', timeout: 10000 });
  await until('the TLS cell', async () => (await cellText(rowOf(registries, name), 'TLS')) === 'Not verified');
  assert.equal(await cellText(rowOf(registries, name), 'URL'), berth.url);

  // -- test the connection: the server logs in to the registry with the stored password -------
  await dismissToasts(page);
  await rowMenu(page, rowOf(registries, name), 'Test connection');
  const result = toastWith(page, `${name}: `);
  await result.first().waitFor({ timeout: 20000 });
  assert.equal(await result.first().getAttribute('data-kind'), 'success', await text(result.first()));

  // -- a proxy repository of it ---------------------------------------------------------------
  const repo = `cache${token(3)}`;
  await page.getByRole('navigation', { name: 'Container registry' }).getByRole('link', { name: 'Repositories' }).click();
  await until('the repositories page', async () => (await text(pageHeading(page))) === 'Repositories');
  await buttonNamed(page.locator('.page-header'), 'Create repository').click();
  const createRepo = dialogNamed(page, 'Create repository');
  await createRepo.waitFor();
  await createRepo.getByLabel('Name', { exact: true }).fill(repo);
  const upstream = createRepo.getByRole('combobox', { name: 'Proxy cache of' });
  await until('the registries in the select', async () => (await upstream.locator('option', { hasText: name }).count()) === 1);
  await upstream.selectOption(name);
  await createRepo.getByLabel('Upstream namespace', { exact: true }).fill('library');
  await checkA11y(page, 'the create repository dialog with a proxy');
  await buttonNamed(createRepo, 'Create').click();
  await createRepo.waitFor({ state: 'detached', timeout: 10000 });
  const repoRow = rowOf(tableNamed(page, 'Repositories'), repo);
  await repoRow.waitFor({ timeout: 10000 });
  assert.match(await cellText(repoRow, 'Name'), new RegExp(`Proxy of ${name}/library`));
  await repoRow.getByRole('link', { name: repo }).click();
  await until('the repository page', async () => (await text(pageHeading(page))) === repo);
  await until('the proxy line', async () => (await text(page.locator('#content'))).includes(`Proxy of ${name}/library`));
  await checkA11y(page, 'a proxy repository\'s page');

  // -- the registry cannot go while the repository uses it; then it can -----------------------
  await page.getByRole('navigation', { name: 'Container registry' }).getByRole('link', { name: 'Registries' }).click();
  await until('the registries page', async () => (await text(pageHeading(page))) === 'Registries');
  const again = rowOf(tableNamed(page, 'Remote registries'), name);
  await again.waitFor({ timeout: 10000 });
  await rowMenu(page, again, 'Delete');
  const confirm = dialogNamed(page, `Delete registry ${name}?`);
  await confirm.waitFor();
  await buttonNamed(confirm, 'Delete').click();
  await until('the refusal naming the repository', async () => (await text(page.locator('body'))).includes(`used by proxy repository ${repo}`));
  await page.keyboard.press('Escape');
  assert.equal((await pageApi(page, 'DELETE', `/repositories/${repo}`)).status, 204);
  await rowMenu(page, again, 'Delete');
  const confirm2 = dialogNamed(page, `Delete registry ${name}?`);
  await confirm2.waitFor();
  await buttonNamed(confirm2, 'Delete').click();
  await again.waitFor({ state: 'detached', timeout: 10000 });
});

test('artifact_view_of_an_index_with_platforms_and_referrers', async ({ berth, newPage }) => {
  const page = await newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  const host = berth.host;
  const repo = `multi${token(3)}`;
  const image = 'base/os';
  await loginAsAdmin(page, berth.url);
  assert.equal((await pageApi(page, 'POST', '/repositories', { name: repo })).status, 201);
  await page.goto(`${berth.url}/#/repositories/${repo}/images`);
  await until('the repository page', async () => (await text(pageHeading(page))) === repo);
  const user = await createPushUser(page, repo);

  // -- an index of two platforms, and a signature of it, pushed over the registry API ---------
  const client = new RegistryClient(berth, user.name, user.secret);
  const name = `${repo}/${image}`;
  const children = [];
  for (const [architecture, variant] of [['amd64', null], ['arm64', 'v8']]) {
    const config = await client.blob(name, 'application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({
      architecture, os: 'linux', ...(variant ? { variant } : {}), created: '2024-05-01T00:00:00Z',
      config: { Entrypoint: ['/bin/app'], Env: ['PATH=/usr/bin'] }, rootfs: { type: 'layers', diff_ids: [] },
    })));
    const layer = await client.blob(name, 'application/vnd.oci.image.layer.v1.tar+gzip', crypto.randomBytes(3000));
    const manifest = await client.manifest(name, null, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] });
    children.push({ ...manifest, platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) } });
  }
  const indexDoc = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children };
  const index = await client.manifest(name, 'v1', indexDoc);
  const empty = await client.blob(name, 'application/vnd.oci.empty.v1+json', Buffer.from('{}'));
  const sigLayer = await client.blob(name, 'application/vnd.dev.cosign.simplesigning.v1+json', Buffer.from(`{"signed":"${token(8)}"}`));
  const signature = await client.manifest(name, null, {
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    config: empty, layers: [sigLayer], subject: index,
  });

  // -- the index's page: its platforms with digests and pull commands, its signature ----------
  await page.goto(`${berth.url}/#/repositories/${repo}/images/${image}`);
  const artifacts = tableNamed(page, 'Artifacts');
  const indexRow = rowOf(artifacts, index.digest.slice(7, 19));
  await indexRow.waitFor({ timeout: 10000 });
  assert.equal(await cellText(indexRow, 'Type'), 'OCI index');
  await indexRow.getByRole('link', { name: `Artifact ${index.digest.slice(7, 19)}` }).click();
  await until('the index page', async () => (await text(pageHeading(page))) === `${image}@sha256:${index.digest.slice(7, 19)}`);
  await until('the focus on the heading', () => focused(pageHeading(page)));
  const platforms = tableNamed(page, 'Platforms');
  await platforms.waitFor();
  const rows = (await platforms.getByRole('row').all()).slice(1);
  assert.equal(rows.length, 2);
  assert.deepEqual(await Promise.all(rows.map((r) => cellText(r, 'Platform'))), ['linux/amd64', 'linux/arm64/v8']);
  for (const [i, r] of rows.entries()) assert.equal(await cellText(r, 'Digest'), children[i].digest.slice(7, 19));
  assert.match(await text(page.getByRole('region', { name: 'Platforms' })), /2 entries/);
  await buttonNamed(rows[1], 'Copy the podman pull command of linux/arm64/v8').click();
  await expectCopied(page, `podman pull --tls-verify=false ${host}/${name}@${children[1].digest}`, 'a platform\'s podman pull command');
  const referrers = tableNamed(page, 'Referrers');
  const sigRow = rowOf(referrers, signature.digest.slice(7, 19));
  await sigRow.waitFor();
  assert.equal(await cellText(sigRow, 'Type'), 'application/vnd.dev.cosign.artifact.sig.v1+json');
  await buttonNamed(sigRow, `Copy the docker pull command of ${signature.digest.slice(7, 19)}`).click();
  await expectCopied(page, `docker pull ${host}/${name}@${signature.digest}`, 'the signature\'s pull command');
  assert.deepEqual(JSON.parse(await text(page.getByLabel('Manifest JSON', { exact: true }))), indexDoc, 'the manifest as pushed, pretty-printed');
  // Tabs with panels, by keyboard.
  const pull = page.getByRole('region', { name: 'Pull' });
  await pull.getByRole('tab', { name: 'Docker' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.ok(await focused(pull.getByRole('tab', { name: 'Podman' })));
  assert.ok(await pull.getByRole('tabpanel', { name: 'Podman' }).isVisible());
  assert.ok(!(await pull.getByRole('tabpanel', { name: 'Docker', includeHidden: true }).isVisible()));
  assert.equal(await text(pull.getByRole('tabpanel', { name: 'Podman' }).locator('code', { hasText: ':v1' })), `podman pull --tls-verify=false ${host}/${name}:v1`);
  await checkA11y(page, 'an index\'s artifact page');
  await dismissToasts(page);
  await screenshot(page, '14-artifact-index');

  // -- a platform's page: config, layers with sizes -------------------------------------------
  await rows[1].getByRole('link', { name: `Artifact ${children[1].digest.slice(7, 19)}` }).click();
  await until('the platform\'s page', async () => (await text(pageHeading(page))) === `${image}@sha256:${children[1].digest.slice(7, 19)}`);
  const config = page.getByRole('region', { name: 'Config' });
  assert.match(await text(config), /linux\/arm64\/v8/);
  assert.match(await text(config), /\["\/bin\/app"\]/);
  const layers = tableNamed(page, 'Layers');
  assert.equal(await cellText(layers.getByRole('row').nth(1), 'Size'), '2.93 KiB');
  assert.match(await text(page.getByRole('region', { name: 'Layers' })), /1 layer, 2\.93 KiB in all/);

  // -- the signature's page: it refers to the index -------------------------------------------
  await page.goto(`${berth.url}/#/repositories/${repo}/images/${image}/${signature.digest}`);
  const refersTo = page.getByRole('region', { name: 'Refers to' });
  await refersTo.waitFor({ timeout: 10000 });
  await refersTo.getByRole('link', { name: index.digest }).click();
  await until('back on the index', async () => (await text(pageHeading(page))) === `${image}@sha256:${index.digest.slice(7, 19)}`);

  // -- a missing artifact: a page that says so ------------------------------------------------
  await page.goto(`${berth.url}/#/repositories/${repo}/images/${image}/sha256:${'0'.repeat(64)}`);
  await page.getByRole('heading', { name: 'This artifact does not exist' }).waitFor({ timeout: 10000 });
});

test('reduced_motion_rule_and_focus_after_a_route_change', async ({ berth, newPage }) => {
  const page = await newPage();
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await loginAsAdmin(page, berth.url);
  await page.getByRole('navigation', { name: 'Developers' }).getByRole('link', { name: 'API tokens' }).click();
  await until('the API tokens page', async () => (await text(pageHeading(page))) === 'API tokens');
  await until('the focus on the heading', () => focused(pageHeading(page)));
  // With reduced motion asked for, the spinners do not turn and dialogs do not pop.
  await buttonNamed(page.locator('.page-header'), 'Create API token').click();
  const dialog = dialogNamed(page, 'Create API token');
  await dialog.waitFor();
  const duration = await dialog.evaluate((el) => getComputedStyle(el).animationDuration);
  assert.ok(parseFloat(duration) < 0.001, `the dialog's animation lasts ${duration}`);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  // The unknown page has a heading too, and gets the focus.
  await page.goto(`${berth.url}/#/no/such/page`);
  await until('the not-found heading focused', () => focused(page.getByRole('heading', { name: 'This page does not exist' })));
  await checkA11y(page, 'the not-found page');
});

// ---------------------------------------------------------------------------------------------
// Runner: cargo's output format
// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const selected = tests.filter((t) => !filters.length || filters.some((f) => t.name.includes(f)));
  const filteredOut = tests.length - selected.length;
  console.log(`\nrunning ${selected.length} tests`);

  let berth = null;
  let browser = null;
  let context = null;
  let setupError = null;
  const pageErrors = [];
  // A browser context: its own cookies (another person, or the same user in another browser).
  const newContext = async () => {
    // bypassCSP: the console's Content-Security-Policy (default-src 'self') would refuse the
    // axe-core script the test injects; the console's own code never needs it.
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: berth.url });
    return ctx;
  };
  try {
    berth = await new Berth().start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: !process.env.BERTH_BROWSER_HEADED,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    context = await newContext();
  } catch (e) {
    setupError = e;
  }

  const watch = (page) => {
    page.setDefaultTimeout(15000);
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.stack || e}`));
    return page;
  };
  const newPage = async () => watch(await context.newPage());
  // A page in a context of its own, closed with the test.
  const extraContexts = [];
  const newContextPage = async () => {
    const ctx = await newContext();
    extraContexts.push(ctx);
    return watch(await ctx.newPage());
  };
  const allPages = () => [context, ...extraContexts].filter(Boolean).flatMap((c) => c.pages());

  let passed = 0;
  let failed = 0;
  const failures = [];
  for (const t of selected) {
    process.stdout.write(`test ${t.name} ... `);
    const errorsBefore = pageErrors.length;
    try {
      if (setupError) throw setupError;
      // Each test starts logged out.
      await context.clearCookies();
      await t.fn({ berth, newPage, newContextPage });
      const errors = pageErrors.slice(errorsBefore);
      if (errors.length) throw new Error(`uncaught errors in the page:\n${errors.join('\n')}`);
      console.log('ok');
      passed += 1;
    } catch (e) {
      console.log('FAILED');
      failed += 1;
      failures.push([t.name, e]);
      for (const [i, p] of allPages().entries()) {
        await screenshot(p, `FAILED-${t.name}-${i}`).catch(() => {});
      }
    }
    for (const p of allPages()) await p.close().catch(() => {});
    for (const c of extraContexts.splice(0)) await c.close().catch(() => {});
  }

  if (failures.length) {
    console.log('\nfailures:\n');
    for (const [name, e] of failures) console.log(`---- ${name} ----\n${e && e.stack ? e.stack : e}\n`);
    if (berth) console.log(tail(berth.logPath));
    console.log(`\nscreenshots of the failing pages: ${SHOTS}/FAILED-*.png`);
    console.log('\nfailures:');
    for (const [name] of failures) console.log(`    ${name}`);
  } else {
    console.log(`\nscreenshots: ${SHOTS}`);
  }
  console.log(`axe-core (no serious or critical violation) on ${axeChecked.length} pages and dialogs: ${axeChecked.join('; ')}`);

  if (context) await context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (berth) await berth.stop().catch(() => {});
  if (KEEP) console.log(`kept ${RUN_DIR}`);
  else fs.rmSync(RUN_DIR, { recursive: true, force: true });

  const secs = ((Date.now() - started) / 1000).toFixed(2);
  console.log(`\ntest result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed; 0 ignored; 0 measured; ${filteredOut} filtered out; finished in ${secs}s`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  console.log('\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s');
  process.exitCode = 1;
});
