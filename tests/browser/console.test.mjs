// berth's web console in a real Chromium, against the real `berth` binary.
//
// Plain node (no test framework): starts `berth serve` on a free loopback port with a fresh data
// directory, launches Debian's Chromium through playwright-core, and drives the console the way
// a person does. skopeo pushes and pulls an image with the credentials the console showed.
// Screenshots of the main pages go to $BERTH_SCREENSHOTS (default target/screenshots).
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

const byTestId = (id) => `[data-testid="${id}"]`;

async function text(locator) {
  return ((await locator.textContent()) || '').trim();
}

async function lastCopied(page) {
  return ((await page.locator(byTestId('last-copied')).textContent()) || '').trim();
}

async function expectCopied(page, expected, what) {
  await until(`${what} to be copied`, async () => (await lastCopied(page)) === expected);
  // The real clipboard (permission granted to the origin) holds it too.
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(clip, expected, `clipboard after copying ${what}`);
}

async function dismissToasts(page) {
  await page.evaluate(() => document.querySelectorAll('[data-testid=toast]').forEach((t) => t.remove()));
}

async function login(page, base, username, password) {
  await page.goto(`${base}/`);
  await page.locator(byTestId('login-username')).fill(username);
  await page.locator(byTestId('login-password')).fill(password);
  await page.locator(byTestId('login-submit')).click();
}

async function loginAsAdmin(page, base) {
  await login(page, base, 'admin', ADMIN_PASSWORD);
  await page.locator(byTestId('create-repository')).waitFor({ timeout: 15000 });
}

// The action menu of a table row, then one of its items.
async function rowMenu(page, row, menuTestid, itemTestid) {
  await row.locator(byTestId(menuTestid)).click();
  await page.locator(`${byTestId('menu')} ${byTestId(itemTestid)}`).click();
}

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

// On a repository's page: creates a repository user with push_pull on it from the users tab
// and returns the name and secret its dialog shows once.
async function createPushUser(page, repo) {
  await page.locator(byTestId('tab-users')).click();
  await page.locator(byTestId('create-user')).click();
  const create = page.locator(byTestId('create-user-dialog'));
  await create.waitFor();
  await create.locator(byTestId('user-name-input')).fill(`push${token(3)}`);
  await until('the repository choices', async () => (await create.locator(`${byTestId('perm-repo')} option[value="${repo}"]`).count()) === 1);
  await create.locator(byTestId('perm-repo')).selectOption(repo);
  await create.locator(byTestId('perm-permission')).selectOption('push_pull');
  await create.locator(byTestId('dialog-submit')).click();
  const secretDialog = page.locator(byTestId('secret-dialog'));
  await secretDialog.waitFor({ timeout: 10000 });
  const name = await text(secretDialog.locator(byTestId('secret-name')));
  const secret = await text(secretDialog.locator(byTestId('secret')));
  await secretDialog.locator(byTestId('secret-done')).click();
  await secretDialog.waitFor({ state: 'detached' });
  await dismissToasts(page);
  return { name, secret };
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
  const error = page.locator(byTestId('login-error'));
  await error.waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await text(error), body.error.message);
  // Still on the login page, not logged in.
  assert.equal(await page.locator(byTestId('session-user')).count(), 0);
  assert.ok(await page.locator(byTestId('login-form')).isVisible());
  const session = await page.evaluate(async () => (await fetch('/api/v1/session', { credentials: 'same-origin' })).status);
  assert.equal(session, 401);
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
  await page.locator(byTestId('login-form')).waitFor();
  await screenshot(page, '01-login');
  await page.locator(byTestId('login-username')).fill('admin');
  await page.locator(byTestId('login-password')).fill(ADMIN_PASSWORD);
  await page.locator(byTestId('login-submit')).click();
  await page.locator(byTestId('create-repository')).waitFor({ timeout: 15000 });
  assert.equal(await text(page.locator(byTestId('session-user'))), 'admin');

  // -- create a repository: private, 1 GiB ----------------------------------------------------
  await page.locator(byTestId('create-repository')).click();
  const createRepo = page.locator(byTestId('create-repository-dialog'));
  await createRepo.waitFor();
  await createRepo.locator(byTestId('repo-name')).fill(repo);
  await createRepo.locator(byTestId('access-private')).check();
  await createRepo.locator(byTestId('quota-value')).fill('1');
  await createRepo.locator(byTestId('quota-unit')).selectOption('GiB');
  await createRepo.locator(byTestId('dialog-submit')).click();
  await createRepo.waitFor({ state: 'detached', timeout: 10000 });
  const repoRow = page.locator(`${byTestId('repository-row')}[data-name="${repo}"]`);
  await repoRow.waitFor({ timeout: 10000 });
  const storage = await text(repoRow.locator(byTestId('storage')));
  assert.match(storage, /^0 B of 1 GiB/, `storage cell of a new repository: ${storage}`);
  assert.equal(await repoRow.locator(byTestId('access-level')).getAttribute('data-access'), 'private');
  assert.equal(await text(repoRow.locator(byTestId('image-count'))), '0');
  await screenshot(page, '02-repositories');

  // -- the repository page --------------------------------------------------------------------
  await repoRow.locator(byTestId('repository-link')).click();
  await until('the repository page', async () => (await text(page.locator(byTestId('repo-title')))) === repo);
  assert.equal(new URL(page.url()).hash, `#/repositories/${repo}/images`);
  assert.equal(await text(page.locator(byTestId('repo-quota'))), '1 GiB');

  // -- a repository user with push_pull; the secret is shown once -----------------------------
  await page.locator(byTestId('tab-users')).click();
  await page.locator(byTestId('create-user')).click();
  const createUser = page.locator(byTestId('create-user-dialog'));
  await createUser.waitFor();
  const userSuffix = `ci${token(3)}`;
  await createUser.locator(byTestId('user-name-input')).fill(userSuffix);
  await createUser.locator(byTestId('user-description-input')).fill('browser test pipeline');
  assert.ok(await createUser.locator(byTestId('user-expiry-never')).isChecked(), 'a new user never expires by default');
  await until('the repository choices', async () => (await createUser.locator(`${byTestId('perm-repo')} option[value="${repo}"]`).count()) === 1);
  assert.equal(await createUser.locator(byTestId('perm-row')).count(), 1);
  await createUser.locator(byTestId('perm-repo')).selectOption(repo);
  await createUser.locator(byTestId('perm-permission')).selectOption('push_pull');
  await createUser.locator(byTestId('dialog-submit')).click();
  const secretDialog = page.locator(byTestId('secret-dialog'));
  await secretDialog.waitFor({ timeout: 10000 });
  const userName = await text(secretDialog.locator(byTestId('secret-name')));
  const secret = await text(secretDialog.locator(byTestId('secret')));
  assert.match(userName, new RegExp(`^\\d+-${userSuffix}$`), `the user's name carries the account prefix: ${userName}`);
  assert.ok(secret.length >= 16, `a secret of some length: ${secret}`);
  assert.ok(await secretDialog.locator(byTestId('secret-warning')).isVisible());
  await screenshot(page, '06-users-secret-dialog', { fullPage: false });
  await secretDialog.locator(byTestId('copy-secret')).click();
  await expectCopied(page, secret, 'the secret');
  await secretDialog.locator(byTestId('secret-done')).click();
  await secretDialog.waitFor({ state: 'detached' });
  const userRow = page.locator(`${byTestId('user-row')}[data-name="${userName}"]`);
  await userRow.waitFor({ timeout: 10000 });
  assert.equal(await text(userRow.locator(byTestId('user-name'))), userName);
  const perm = userRow.locator(byTestId('user-permission'));
  assert.equal(await perm.count(), 1);
  assert.equal(await perm.getAttribute('data-repository'), repo);
  assert.equal(await perm.getAttribute('data-permission'), 'push_pull');
  assert.equal(await text(userRow.locator(byTestId('user-expiry'))), 'never');
  assert.equal(await userRow.locator(byTestId('user-expired')).count(), 0);
  // The secret is shown once: no element shows it any more.
  assert.equal(await page.locator(byTestId('secret')).count(), 0);
  assert.ok(!(await page.locator('#app').innerText()).includes(secret), 'the secret stays on the page after its dialog closed');
  await dismissToasts(page);

  // -- push with skopeo, using what the console showed ----------------------------------------
  const creds = `${userName}:${secret}`;
  const layout = writeOciLayout(path.join(RUN_DIR, 'layout'), tag);
  skopeo.push(layout.ref, `${repo}/${image}:${tag}`, creds);

  // -- the images tab: pull count 0, never pulled ---------------------------------------------
  await page.locator(byTestId('tab-images')).click();
  const imageRow = page.locator(`${byTestId('image-row')}[data-name="${image}"]`);
  await imageRow.waitFor({ timeout: 10000 });
  assert.equal(await text(imageRow.locator(byTestId('pull-count'))), '0');
  assert.equal(await text(imageRow.locator(byTestId('pull-time'))), 'never');
  assert.equal(await text(imageRow.locator(byTestId('artifact-count'))), '1');
  assert.notEqual(await text(imageRow.locator(byTestId('last-modified'))), '—', 'a pushed image has a last-modified time');

  // The name filter is server-side and debounced.
  await page.locator(byTestId('image-search')).fill('no-such-image');
  await page.locator(byTestId('empty-state')).waitFor({ timeout: 10000 });
  assert.equal(await page.locator(byTestId('image-row')).count(), 0);
  await page.locator(byTestId('image-search')).fill('app');
  await imageRow.waitFor({ timeout: 10000 });
  await page.locator(byTestId('image-search')).fill('');
  await imageRow.waitFor({ timeout: 10000 });

  // -- push commands dialog -------------------------------------------------------------------
  await page.locator(byTestId('push-command')).click();
  const pushDialog = page.locator(byTestId('push-commands-dialog'));
  await pushDialog.waitFor();
  const commands = pushDialog.locator(byTestId('push-command-text'));
  await until('three push commands', async () => (await commands.count()) === 3);
  const byKind = {};
  for (const c of await commands.all()) byKind[await c.getAttribute('data-kind')] = await text(c);
  assert.ok(byKind.login.includes(host), `login command names ${host}: ${byKind.login}`);
  assert.ok(byKind.push.includes(`${host}/${repo}/`), `push command names ${host}/${repo}/: ${byKind.push}`);
  assert.ok(byKind.tag.includes(`${host}/${repo}/`), `tag command names ${host}/${repo}/: ${byKind.tag}`);
  await screenshot(page, '04-push-command-dialog', { fullPage: false });
  await pushDialog.locator(byTestId('copy-push')).click();
  await expectCopied(page, byKind.push, 'the push command');
  await pushDialog.locator(byTestId('dialog-close')).click();
  await pushDialog.waitFor({ state: 'detached' });

  // -- pull with skopeo; the console shows one pull and its time once stats are flushed --------
  skopeo.pull(`${repo}/${image}:${tag}`, `oci:${path.join(RUN_DIR, 'pulled')}:${tag}`, creds);
  let shown = null;
  await until('the image list to show 1 pull and a pull time', async () => {
    await page.reload();
    await imageRow.waitFor({ timeout: 10000 });
    shown = {
      count: await text(imageRow.locator(byTestId('pull-count'))),
      time: await text(imageRow.locator(byTestId('pull-time'))),
    };
    return shown.count === '1' && shown.time !== 'never' && shown.time !== '';
  }, { timeout: 30000, interval: 500, detail: () => shown });
  await screenshot(page, '03-repository-images');

  // -- artifacts of the image -----------------------------------------------------------------
  await imageRow.locator(byTestId('image-link')).click();
  await until('the artifacts page', async () => (await text(page.locator(byTestId('image-title')))) === image);
  assert.equal(new URL(page.url()).hash, `#/repositories/${repo}/images/team/app`);
  const artifactRow = page.locator(`${byTestId('artifact-row')}[data-digest="${layout.digest}"]`);
  await artifactRow.waitFor({ timeout: 10000 });
  assert.equal(await page.locator(byTestId('artifact-row')).count(), 1);
  assert.equal(await text(artifactRow.locator(byTestId('artifact-digest'))), layout.digest.slice(7, 19));
  const tags = await artifactRow.locator(byTestId('tag')).allTextContents();
  assert.deepEqual(tags.map((t) => t.trim()), [tag]);
  assert.equal(await text(artifactRow.locator(byTestId('pull-count'))), '1');
  assert.notEqual(await text(artifactRow.locator(byTestId('pull-time'))), 'never');
  assert.match(await text(artifactRow.locator(byTestId('artifact-size'))), /^\d+(\.\d+)? (B|KiB|MiB)$/);
  await screenshot(page, '05-artifacts');

  await artifactRow.locator(byTestId('copy-digest')).click();
  await expectCopied(page, layout.digest, 'the digest');

  // The action menu: pull command by tag, then by digest.
  await artifactRow.locator(byTestId('artifact-actions')).click();
  await page.locator(`${byTestId('menu-copy-tag')}[data-tag="${tag}"]`).click();
  await expectCopied(page, `docker pull ${host}/${repo}/${image}:${tag}`, 'the pull command by tag');
  await artifactRow.locator(byTestId('artifact-actions')).click();
  await page.locator(byTestId('menu-copy-digest')).click();
  await expectCopied(page, `docker pull ${host}/${repo}/${image}@${layout.digest}`, 'the pull command by digest');

  // Delete, with a confirmation.
  await artifactRow.locator(byTestId('artifact-actions')).click();
  await page.locator(byTestId('menu-delete')).click();
  const confirm = page.locator(byTestId('confirm-dialog'));
  await confirm.waitFor();
  assert.ok((await text(confirm)).includes(layout.digest.slice(7, 19)), 'the confirmation names the artifact');
  await confirm.locator(byTestId('confirm-ok')).click();
  await confirm.waitFor({ state: 'detached', timeout: 10000 });
  // It was the image's last: the image is gone, and the page goes back to the images list.
  await until('the repository\'s images list', async () => new URL(page.url()).hash === `#/repositories/${repo}/images`);
  // The images table, empty (the empty state below it).
  await page.locator(`.table-wrap:has(${byTestId('images-table')}) ${byTestId('empty-state')}`).waitFor({ timeout: 10000 });
  assert.equal(await page.locator(byTestId('artifact-row')).count(), 0);
  assert.equal(await page.locator(byTestId('image-row')).count(), 0);
  await until('the image count to drop to 0', async () => (await text(page.locator(byTestId('repo-image-count')))) === '0');
  const gone = skopeo.inspectRaw(`${repo}/${image}@${layout.digest}`, creds);
  assert.notEqual(gone.status, 0, `the deleted manifest is still served: ${gone.stdout}`);

  // -- history --------------------------------------------------------------------------------
  await page.goto(`${berth.url}/#/repositories/${repo}/history`);
  await dismissToasts(page);
  const historyRows = page.locator(byTestId('history-row'));
  await until('history events', async () => (await historyRows.count()) >= 2);
  const images = await page.locator(byTestId('history-image')).allTextContents();
  assert.ok(images.some((i) => i.trim() === image), `an event names the image: ${images}`);
  const actions = (await page.locator(byTestId('history-action')).allTextContents()).map((a) => a.trim());
  assert.ok(actions.some((a) => /push/i.test(a)), `a push event: ${actions}`);
  assert.ok(actions.some((a) => /delete/i.test(a)), `a delete event: ${actions}`);
  const actors = (await page.locator(byTestId('history-actor')).allTextContents()).map((a) => a.trim());
  assert.ok(actors.includes(userName), `the push is by ${userName}: ${actors}`);
  assert.ok(actors.includes('admin'), `the delete is by admin: ${actors}`);
  await screenshot(page, '07-history');

  // -- log out, from the user menu ------------------------------------------------------------
  await page.locator(byTestId('user-menu')).click();
  await page.locator(`${byTestId('menu')} ${byTestId('logout')}`).click();
  await page.locator(byTestId('login-form')).waitFor({ timeout: 10000 });
  const after = await page.evaluate(async () => (await fetch('/api/v1/session', { credentials: 'same-origin' })).status);
  assert.equal(after, 401);
});

test('repository_settings_and_repository_user_lifecycle', async ({ berth, newPage }) => {
  const page = await newPage();
  const skopeo = new Skopeo(berth.host);
  const repo = `ops${token(3)}`;
  await loginAsAdmin(page, berth.url);

  // -- create: a name the registry refuses is caught in the dialog ----------------------------
  await page.locator(byTestId('create-repository')).click();
  const dialog = page.locator(byTestId('create-repository-dialog'));
  await dialog.waitFor();
  await dialog.locator(byTestId('repo-name')).fill('Bad Name');
  await dialog.locator(byTestId('dialog-submit')).click();
  await dialog.locator(byTestId('repo-name-error')).waitFor({ state: 'visible' });
  // Public, no limit.
  await dialog.locator(byTestId('repo-name')).fill(repo);
  await dialog.locator(byTestId('access-public')).check();
  await dialog.locator(byTestId('quota-unlimited')).check();
  assert.ok(await dialog.locator(byTestId('quota-value')).isDisabled());
  // Referrers stay when their artifact is deleted.
  assert.ok(await dialog.locator(byTestId('repo-delete-referrers')).isChecked(), 'referrers go with their artifact by default');
  await dialog.locator(byTestId('repo-delete-referrers')).uncheck();
  const created = apiResponse(page, berth, 'POST', '/repositories');
  await dialog.locator(byTestId('dialog-submit')).click();
  const createdAnswer = await created;
  assert.equal(createdAnswer.status(), 201);
  assert.equal((await createdAnswer.json()).delete_orphan_referrers, false);
  assert.equal(JSON.parse(createdAnswer.request().postData()).delete_orphan_referrers, false);
  await dialog.waitFor({ state: 'detached', timeout: 10000 });
  const row = page.locator(`${byTestId('repository-row')}[data-name="${repo}"]`);
  await row.waitFor({ timeout: 10000 });
  assert.equal(await row.locator(byTestId('access-level')).getAttribute('data-access'), 'public');
  assert.match(await text(row.locator(byTestId('storage'))), /^0 B · no limit$/);
  assert.equal((await pageApi(page, 'GET', `/repositories/${repo}`)).body.delete_orphan_referrers, false);

  // -- the same name again: the server's conflict message, in the dialog ----------------------
  await page.locator(byTestId('create-repository')).click();
  await dialog.waitFor();
  await dialog.locator(byTestId('repo-name')).fill(repo);
  const conflict = page.waitForResponse((r) => r.url().endsWith('/api/v1/repositories') && r.request().method() === 'POST');
  await dialog.locator(byTestId('dialog-submit')).click();
  const answer = await conflict;
  assert.equal(answer.status(), 409);
  const message = (await answer.json()).error.message;
  await dialog.locator(byTestId('dialog-error')).waitFor({ state: 'visible' });
  assert.equal(await text(dialog.locator(byTestId('dialog-error'))), message);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  // -- edit: private, 500 MiB -----------------------------------------------------------------
  await row.locator(byTestId('repository-link')).click();
  await until('the repository page', async () => (await text(page.locator(byTestId('repo-title')))) === repo);
  await page.locator(byTestId('edit-repository')).click();
  const edit = page.locator(byTestId('edit-repository-dialog'));
  await edit.waitFor();
  assert.ok(await edit.locator(byTestId('quota-unlimited')).isChecked(), 'the dialog starts from the current settings');
  assert.ok(!(await edit.locator(byTestId('repo-delete-referrers')).isChecked()), 'the dialog starts from the current referrers setting');
  await edit.locator(byTestId('access-private')).check();
  await edit.locator(byTestId('quota-unlimited')).uncheck();
  await edit.locator(byTestId('quota-value')).fill('500');
  await edit.locator(byTestId('quota-unit')).selectOption('MiB');
  await edit.locator(byTestId('dialog-submit')).click();
  await edit.waitFor({ state: 'detached', timeout: 10000 });
  await until('the summary to show 500 MiB', async () => (await text(page.locator(byTestId('repo-quota')))) === '500 MiB');
  const summaryAccess = page.locator(`.repo-summary ${byTestId('access-level')}`);
  assert.equal(await summaryAccess.getAttribute('data-access'), 'private');
  await page.reload();
  await until('the saved quota after a reload', async () => (await text(page.locator(byTestId('repo-quota')))) === '500 MiB');
  assert.equal((await pageApi(page, 'GET', `/repositories/${repo}`)).body.delete_orphan_referrers, false, 'an edit of other settings keeps referrers');

  // -- a user with an expiry date --------------------------------------------------------------
  await page.locator(byTestId('tab-users')).click();
  await page.locator(byTestId('empty-state')).waitFor({ timeout: 10000 });
  await page.locator(byTestId('create-user')).click();
  const create = page.locator(byTestId('create-user-dialog'));
  await create.waitFor();
  const suffix = `bot${token(3)}`;
  await create.locator(byTestId('user-name-input')).fill(suffix);
  await create.locator(byTestId('user-expiry-never')).uncheck();
  const expiry = isoDate(30);
  await create.locator(byTestId('user-expiry-date')).fill(expiry);
  await until('the repository choices', async () => (await create.locator(`${byTestId('perm-repo')} option[value="${repo}"]`).count()) === 1);
  await create.locator(byTestId('perm-permission')).selectOption('pull');
  await create.locator(byTestId('dialog-submit')).click();
  const secretDialog = page.locator(byTestId('secret-dialog'));
  await secretDialog.waitFor({ timeout: 10000 });
  const name = await text(secretDialog.locator(byTestId('secret-name')));
  const secret = await text(secretDialog.locator(byTestId('secret')));
  await secretDialog.locator(byTestId('secret-done')).click();
  await secretDialog.waitFor({ state: 'detached' });
  const userRow = page.locator(`${byTestId('user-row')}[data-name="${name}"]`);
  await userRow.waitFor({ timeout: 10000 });
  assert.ok((await userRow.locator(byTestId('user-expiry')).getAttribute('title')).startsWith(`${expiry}T00:00:00`),
    'the expiry is the chosen date, midnight UTC');
  assert.equal(await userRow.locator(byTestId('user-permission')).getAttribute('data-permission'), 'pull');
  assert.ok(skopeo.login(name, secret), 'a user before its expiry logs in');

  // -- edit: expired yesterday, so locked -----------------------------------------------------
  await rowMenu(page, userRow, 'user-actions', 'menu-edit');
  const editUser = page.locator(byTestId('edit-user-dialog'));
  await editUser.waitFor();
  assert.equal(await editUser.locator(byTestId('user-expiry-date')).inputValue(), expiry);
  await editUser.locator(byTestId('user-expiry-date')).fill(isoDate(-1));
  await editUser.locator(byTestId('user-description-input')).fill('locked on purpose');
  await editUser.locator(byTestId('dialog-submit')).click();
  await editUser.waitFor({ state: 'detached', timeout: 10000 });
  await userRow.locator(byTestId('user-expired')).waitFor({ timeout: 10000 });
  assert.equal(await text(userRow.locator(byTestId('user-expired'))), 'Locked (expired)');
  assert.equal(await text(userRow.locator(byTestId('user-description'))), 'locked on purpose');
  assert.ok(!skopeo.login(name, secret), 'an expired user cannot log in');

  // -- edit: never expires, unlocked ----------------------------------------------------------
  await rowMenu(page, userRow, 'user-actions', 'menu-edit');
  await editUser.waitFor();
  await editUser.locator(byTestId('user-expiry-never')).check();
  await editUser.locator(byTestId('dialog-submit')).click();
  await editUser.waitFor({ state: 'detached', timeout: 10000 });
  await userRow.locator(byTestId('user-expired')).waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await text(userRow.locator(byTestId('user-expiry'))), 'never');
  assert.ok(skopeo.login(name, secret), 'an extended user logs in again');

  // -- refresh the secret: the new one is shown once, the old one stops working ---------------
  await rowMenu(page, userRow, 'user-actions', 'menu-refresh-secret');
  await page.locator(byTestId('confirm-dialog')).waitFor();
  await page.locator(byTestId('confirm-ok')).click();
  await secretDialog.waitFor({ timeout: 10000 });
  const fresh = await text(secretDialog.locator(byTestId('secret')));
  assert.equal(await text(secretDialog.locator(byTestId('secret-name'))), name);
  assert.notEqual(fresh, secret);
  await secretDialog.locator(byTestId('secret-done')).click();
  assert.ok(!skopeo.login(name, secret), 'the old secret stops working');
  assert.ok(skopeo.login(name, fresh), 'the new secret works');

  // -- delete the user, then the (empty) repository -------------------------------------------
  await rowMenu(page, userRow, 'user-actions', 'menu-delete');
  await page.locator(byTestId('confirm-ok')).click();
  await userRow.waitFor({ state: 'detached', timeout: 10000 });
  await page.locator(byTestId('empty-state')).waitFor({ timeout: 10000 });
  assert.ok(!skopeo.login(name, fresh), 'a deleted user cannot log in');

  await page.locator(byTestId('delete-repository')).click();
  await page.locator(byTestId('confirm-ok')).click();
  await until('the repositories page', async () => new URL(page.url()).hash === '#/repositories');
  await page.locator(byTestId('repository-row')).first().waitFor({ state: 'attached', timeout: 10000 }).catch(() => {});
  assert.equal(await page.locator(`${byTestId('repository-row')}[data-name="${repo}"]`).count(), 0);
});

test('image_delete_and_referrers_setting', async ({ berth, newPage }) => {
  const page = await newPage();
  const skopeo = new Skopeo(berth.host);
  const repo = `img${token(3)}`;
  const doomed = 'tools/doomed';
  const kept = 'tools/kept';
  const confirm = page.locator(byTestId('confirm-dialog'));
  const rowOf = (image) => page.locator(`${byTestId('image-row')}[data-name="${image}"]`);
  const repository = async () => {
    const r = await pageApi(page, 'GET', `/repositories/${repo}`);
    assert.equal(r.status, 200, `GET /api/v1/repositories/${repo}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const imagePath = (image) => `/repositories/${repo}/images?${new URLSearchParams({ name: image })}`;
  await loginAsAdmin(page, berth.url);

  // -- a repository with the defaults: private, 10 GiB, referrers go with their artifact ------
  await page.locator(byTestId('create-repository')).click();
  const create = page.locator(byTestId('create-repository-dialog'));
  await create.waitFor();
  await create.locator(byTestId('repo-name')).fill(repo);
  assert.ok(await create.locator(byTestId('repo-delete-referrers')).isChecked(), 'referrers go with their artifact by default');
  await create.locator(byTestId('dialog-submit')).click();
  await create.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal((await repository()).delete_orphan_referrers, true);
  await page.locator(`${byTestId('repository-row')}[data-name="${repo}"] ${byTestId('repository-link')}`).click();
  await until('the repository page', async () => (await text(page.locator(byTestId('repo-title')))) === repo);

  // -- two images pushed with skopeo: one with two artifacts (two tags), one with one ---------
  const user = await createPushUser(page, repo);
  const creds = `${user.name}:${user.secret}`;
  const pushed = {};
  for (const [image, tag] of [[doomed, 'v1'], [doomed, 'v2'], [kept, 'v1']]) {
    const layout = writeOciLayout(path.join(RUN_DIR, `layout-${image.replace('/', '-')}-${tag}`), tag);
    skopeo.push(layout.ref, `${repo}/${image}:${tag}`, creds);
    pushed[`${image}:${tag}`] = layout;
  }
  await page.locator(byTestId('tab-images')).click();
  await rowOf(doomed).waitFor({ timeout: 10000 });
  await rowOf(kept).waitFor({ timeout: 10000 });
  assert.equal(await text(rowOf(doomed).locator(byTestId('artifact-count'))), '2');
  assert.equal(await text(rowOf(kept).locator(byTestId('artifact-count'))), '1');
  await until('the image count 2', async () => (await text(page.locator(byTestId('repo-image-count')))) === '2');
  const before = await repository();
  assert.equal(before.image_count, 2);
  const storageBefore = await text(page.locator(`.repo-summary ${byTestId('storage')}`));

  // -- delete an image from its row: the confirmation names it, its artifacts and tags --------
  await rowMenu(page, rowOf(doomed), 'image-actions', 'menu-delete-image');
  await confirm.waitFor();
  assert.equal(await text(confirm.locator(byTestId('confirm-name'))), `${repo}/${doomed}`);
  assert.equal(await text(confirm.locator(byTestId('confirm-artifact-count'))), '2 artifacts');
  assert.match(await text(confirm), /tags/, 'the confirmation says the tags go too');
  assert.equal(await text(confirm.locator(byTestId('confirm-ok'))), 'Delete image');
  await screenshot(page, '10-delete-image-dialog', { fullPage: false });
  const deleted = apiResponse(page, berth, 'DELETE', imagePath(doomed));
  await confirm.locator(byTestId('confirm-ok')).click();
  assert.equal((await deleted).status(), 204);
  await confirm.waitFor({ state: 'detached', timeout: 10000 });
  await rowOf(doomed).waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await rowOf(kept).count(), 1, 'the other image stays');
  await until('the image count to drop to 1', async () => (await text(page.locator(byTestId('repo-image-count')))) === '1');
  await until('the summary\'s storage to drop', async () => (await text(page.locator(`.repo-summary ${byTestId('storage')}`))) !== storageBefore);
  const after = await repository();
  assert.equal(after.image_count, 1);
  const freed = pushed[`${doomed}:v1`].size + pushed[`${doomed}:v2`].size;
  assert.ok(before.used_bytes - after.used_bytes >= freed * 0.9,
    `usage drops by the deleted image's artifacts at once: ${before.used_bytes} -> ${after.used_bytes} (pushed ${freed})`);
  const images = await pageApi(page, 'GET', `/repositories/${repo}/images`);
  assert.deepEqual(images.body.items.map((i) => i.name), [kept]);
  for (const tag of ['v1', 'v2']) {
    const gone = skopeo.inspectRaw(`${repo}/${doomed}:${tag}`, creds);
    assert.notEqual(gone.status, 0, `${doomed}:${tag} is still served: ${gone.stdout}`);
  }
  assert.equal(skopeo.inspectRaw(`${repo}/${kept}:v1`, creds).status, 0, 'the other image is still served');

  // -- the referrers setting, off and on in the repository's settings -------------------------
  const edit = page.locator(byTestId('edit-repository-dialog'));
  for (const on of [false, true]) {
    await page.locator(byTestId('edit-repository')).click();
    await edit.waitFor();
    const box = edit.locator(byTestId('repo-delete-referrers'));
    assert.equal(await box.isChecked(), !on, 'the dialog starts from the current referrers setting');
    await box.setChecked(on);
    const saved = apiResponse(page, berth, 'PATCH', `/repositories/${repo}`);
    await edit.locator(byTestId('dialog-submit')).click();
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
  await rowMenu(page, rowOf(kept), 'image-actions', 'menu-delete-image');
  await confirm.waitFor();
  assert.equal(await text(confirm.locator(byTestId('confirm-artifact-count'))), '1 artifact');
  assert.equal((await pageApi(page, 'DELETE', imagePath(kept))).status, 204, 'the image is deleted through the API');
  const refused = apiResponse(page, berth, 'DELETE', imagePath(kept));
  await confirm.locator(byTestId('confirm-ok')).click();
  const refusal = await refused;
  assert.equal(refusal.status(), 404);
  const refusalMessage = (await refusal.json()).error.message;
  await confirm.locator(byTestId('dialog-error')).waitFor({ state: 'visible' });
  assert.equal(await text(confirm.locator(byTestId('dialog-error'))), refusalMessage);
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  // Refresh shows the list and the summary as they are now: no image.
  await page.locator(byTestId('refresh')).click();
  await rowOf(kept).waitFor({ state: 'detached', timeout: 10000 });
  await page.locator(byTestId('empty-state')).waitFor({ timeout: 10000 });
  await until('the image count to drop to 0', async () => (await text(page.locator(byTestId('repo-image-count')))) === '0');
  assert.equal((await repository()).image_count, 0);

  // -- with no image left, the repository can be deleted --------------------------------------
  await dismissToasts(page);
  await page.locator(byTestId('delete-repository')).click();
  await confirm.waitFor();
  const removed = apiResponse(page, berth, 'DELETE', `/repositories/${repo}`);
  await confirm.locator(byTestId('confirm-ok')).click();
  assert.equal((await removed).status(), 204);
  await until('the repositories page', async () => new URL(page.url()).hash === '#/repositories');
  assert.equal((await pageApi(page, 'GET', `/repositories/${repo}`)).status, 404);
});

test('console_users_lifecycle_and_password_change', async ({ berth, newPage, newContextPage }) => {
  const page = await newPage();
  const username = `dev-${token(3)}@example.com`;
  const [first, second, third] = ['first', 'second', 'third'].map((p) => `${p}-${token(6)}`);
  const rowOf = (name, state) => page.locator(`${byTestId('console-user-row')}[data-username="${name}"]${state ? `[data-state="${state}"]` : ''}`);
  const confirm = page.locator(byTestId('confirm-dialog'));
  await loginAsAdmin(page, berth.url);

  // -- the page, from the sidebar: the system administrators ----------------------------------
  await page.locator(byTestId('nav-console-users')).click();
  await until('the console users page', async () => (await text(page.locator(byTestId('console-users-title')))) === 'Console users');
  assert.equal(new URL(page.url()).hash, '#/console-users');
  assert.equal(await page.locator(byTestId('nav-console-users')).getAttribute('aria-current'), 'page');
  const adminRow = rowOf('admin');
  await adminRow.waitFor({ timeout: 10000 });
  assert.equal(await adminRow.locator(byTestId('console-user-role')).getAttribute('data-role'), 'admin');
  assert.equal(await adminRow.getAttribute('data-state'), 'active');
  assert.equal(await page.locator(byTestId('console-users-account')).inputValue(), '');

  // -- the administrator cannot disable itself: the server's 409, in the dialog ---------------
  await rowMenu(page, adminRow, 'console-user-actions', 'menu-disable');
  await confirm.waitFor();
  const refused = apiResponse(page, berth, 'PATCH', '/console-users/admin');
  await confirm.locator(byTestId('confirm-ok')).click();
  const refusal = await refused;
  assert.equal(refusal.status(), 409);
  const refusalMessage = (await refusal.json()).error.message;
  await confirm.locator(byTestId('dialog-error')).waitFor({ state: 'visible' });
  assert.equal(await text(confirm.locator(byTestId('dialog-error'))), refusalMessage);
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  assert.equal(await adminRow.getAttribute('data-state'), 'active');

  // -- create a console user of the default account -------------------------------------------
  await page.locator(byTestId('create-console-user')).click();
  const create = page.locator(byTestId('create-console-user-dialog'));
  await create.waitFor();
  await create.locator(byTestId('console-user-username')).fill(username);
  await create.locator(byTestId('console-user-account-select')).selectOption(DEFAULT_ACCOUNT);
  await create.locator(byTestId('console-user-password')).fill(first);
  await create.locator(byTestId('console-user-password-repeat')).fill(`${first}-typo`);
  await create.locator(byTestId('dialog-submit')).click();
  await create.locator(byTestId('dialog-error')).waitFor({ state: 'visible' });
  assert.match(await text(create.locator(byTestId('dialog-error'))), /differ/, 'two different passwords are caught in the dialog');
  await create.locator(byTestId('console-user-password-repeat')).fill(first);
  const created = apiResponse(page, berth, 'POST', '/console-users');
  await create.locator(byTestId('dialog-submit')).click();
  assert.equal((await created).status(), 201);
  await create.waitFor({ state: 'detached', timeout: 10000 });
  // The list switched to the new user's account.
  const userRow = rowOf(username);
  await userRow.waitFor({ timeout: 10000 });
  assert.equal(await page.locator(byTestId('console-users-account')).inputValue(), DEFAULT_ACCOUNT);
  assert.equal(new URL(page.url()).hash, `#/console-users?account=${DEFAULT_ACCOUNT}`);
  assert.equal(await text(userRow.locator(byTestId('console-user-name'))), username);
  assert.equal(await userRow.locator(byTestId('console-user-role')).getAttribute('data-role'), 'console');
  assert.equal(await userRow.locator(byTestId('console-user-account')).getAttribute('data-account'), DEFAULT_ACCOUNT);
  assert.match(await text(userRow.locator(byTestId('console-user-account'))), /default/, 'the account is named');
  assert.equal(await text(userRow.locator(byTestId('console-user-state'))), 'Active');
  assert.equal(await adminRow.count(), 0, 'the administrators are not in the account\'s list');
  const before = await apiLogin(berth, username, first);
  assert.equal(before.status, 200, `the new user logs in: ${JSON.stringify(before.body)}`);
  await screenshot(page, '08-console-users');

  // -- reset its password: its session ends, the old password stops working -------------------
  await rowMenu(page, userRow, 'console-user-actions', 'menu-reset-password');
  const reset = page.locator(byTestId('reset-password-dialog'));
  await reset.waitFor();
  assert.ok((await text(reset)).includes(username), 'the reset dialog names the user');
  await reset.locator(byTestId('reset-password')).fill(second);
  await reset.locator(byTestId('reset-password-repeat')).fill(second);
  await reset.locator(byTestId('dialog-submit')).click();
  await reset.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await sessionStatus(berth, before.cookie), 401, 'a reset ends the user\'s sessions');
  assert.equal((await apiLogin(berth, username, first)).status, 401, 'the old password no longer works');

  // -- disable it: logging in fails with the server's message ---------------------------------
  await rowMenu(page, userRow, 'console-user-actions', 'menu-disable');
  await confirm.waitFor();
  assert.ok((await text(confirm)).includes(username), 'the confirmation names the user');
  await confirm.locator(byTestId('confirm-ok')).click();
  await confirm.waitFor({ state: 'detached', timeout: 10000 });
  await rowOf(username, 'disabled').waitFor({ timeout: 10000 });
  assert.equal(await text(userRow.locator(byTestId('console-user-state'))), 'Disabled');

  const userPage = await newContextPage();
  const refusedLogin = apiResponse(userPage, berth, 'POST', '/session');
  await login(userPage, berth.url, username, second);
  const disabledAnswer = await refusedLogin;
  assert.equal(disabledAnswer.status(), 401);
  const disabledMessage = (await disabledAnswer.json()).error.message;
  assert.match(disabledMessage, /disabled/, `the refusal says why: ${disabledMessage}`);
  await userPage.locator(byTestId('login-error')).waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await text(userPage.locator(byTestId('login-error'))), disabledMessage);

  // -- enable it; it logs in, in another browser: no console users page for it ----------------
  await rowMenu(page, userRow, 'console-user-actions', 'menu-enable');
  await rowOf(username, 'active').waitFor({ timeout: 10000 });
  await login(userPage, berth.url, username, second);
  await userPage.locator(byTestId('create-repository')).waitFor({ timeout: 15000 });
  assert.equal(await text(userPage.locator(byTestId('session-user'))), username);
  assert.equal(await userPage.locator(byTestId('nav-console-users')).count(), 0, 'a console user has no console users page in the sidebar');
  await userPage.goto(`${berth.url}/#/console-users`);
  const adminOnly = userPage.locator(byTestId('admin-only'));
  await adminOnly.waitFor({ timeout: 10000 });
  assert.match(await text(adminOnly), /only the system administrator/i);
  assert.equal(await userPage.locator(byTestId('console-users-table')).count(), 0);

  // -- in a second session of its own, it changes its password from the user menu -------------
  const otherPage = await newContextPage();
  await login(otherPage, berth.url, username, second);
  await otherPage.locator(byTestId('create-repository')).waitFor({ timeout: 15000 });
  await otherPage.locator(byTestId('user-menu')).click();
  await otherPage.locator(`${byTestId('menu')} ${byTestId('menu-change-password')}`).click();
  const change = otherPage.locator(byTestId('change-password-dialog'));
  await change.waitFor();
  // A wrong current password: the server's message, in the dialog; still logged in.
  await change.locator(byTestId('current-password')).fill(`${second}-wrong`);
  await change.locator(byTestId('new-password')).fill(third);
  await change.locator(byTestId('new-password-repeat')).fill(third);
  const wrong = apiResponse(otherPage, berth, 'PUT', '/session/password');
  await change.locator(byTestId('dialog-submit')).click();
  const wrongAnswer = await wrong;
  assert.equal(wrongAnswer.status(), 403);
  const wrongMessage = (await wrongAnswer.json()).error.message;
  await change.locator(byTestId('dialog-error')).waitFor({ state: 'visible' });
  assert.equal(await text(change.locator(byTestId('dialog-error'))), wrongMessage);
  await screenshot(otherPage, '09-change-password-dialog', { fullPage: false });
  assert.equal(await pageSessionStatus(otherPage), 200, 'a wrong current password ends nothing');
  // The right one.
  await change.locator(byTestId('current-password')).fill(second);
  const changed = apiResponse(otherPage, berth, 'PUT', '/session/password');
  await change.locator(byTestId('dialog-submit')).click();
  assert.equal((await changed).status(), 204);
  await change.waitFor({ state: 'detached', timeout: 10000 });
  const notice = otherPage.locator(byTestId('toast'), { hasText: 'other sessions' });
  await notice.waitFor({ timeout: 5000 });
  assert.match(await text(notice), /API tokens were ended/);
  // This page stays logged in (the answer set a new cookie) ...
  assert.equal(await pageSessionStatus(otherPage), 200, 'the page that changed the password stays logged in');
  await otherPage.reload();
  await otherPage.locator(byTestId('session-user')).waitFor({ timeout: 10000 });
  assert.equal(await text(otherPage.locator(byTestId('session-user'))), username);
  // ... and the first session ended: the API answers 401, a reload shows the login.
  assert.equal(await pageSessionStatus(userPage), 401, 'the other session ended');
  await userPage.reload();
  await userPage.locator(byTestId('login-form')).waitFor({ timeout: 10000 });
  assert.equal(await userPage.locator(byTestId('session-user')).count(), 0);
  assert.equal((await apiLogin(berth, username, second)).status, 401, 'the old password no longer works');
  const after = await apiLogin(berth, username, third);
  assert.equal(after.status, 200, `the new password works: ${JSON.stringify(after.body)}`);

  // -- delete it, with a confirmation naming it: its sessions end -----------------------------
  await dismissToasts(page);
  await rowMenu(page, userRow, 'console-user-actions', 'menu-delete');
  await confirm.waitFor();
  assert.equal(await text(confirm.locator(byTestId('confirm-name'))), username);
  await confirm.locator(byTestId('confirm-ok')).click();
  await confirm.waitFor({ state: 'detached', timeout: 10000 });
  await userRow.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await pageSessionStatus(otherPage), 401, 'a deleted user\'s session ends');
  assert.equal(await sessionStatus(berth, after.cookie), 401);
  assert.equal((await apiLogin(berth, username, third)).status, 401, 'a deleted user cannot log in');
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
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
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
