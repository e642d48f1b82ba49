// The chat example in real headless Chromium: three pages, two rooms.
//
//   node tests/browser/chat.mjs http://127.0.0.1:PORT/ (deflate|plain)
//
// Checks: the page loads and its WebSocket opens, with permessage-deflate
// negotiated exactly when the server allows it (Chromium always offers it);
// two pages in one room get each other's messages and never their own; a
// page in another room gets none of them; a page that closes leaves the
// room (the others are told), and so does one that clicks Leave. Every wait is bounded; exits non-zero on the
// first failure.
import { chromium } from 'playwright-core';

const [url, mode] = process.argv.slice(2);
if (!url || !['deflate', 'plain'].includes(mode)) {
  console.error('usage: node chat.mjs URL deflate|plain');
  process.exit(2);
}
const WAIT = 10_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

const fail = async (why) => {
  console.error(`browser test [${mode}]: ${why}`);
  await browser.close();
  process.exit(1);
};

const context = await browser.newContext();
async function open(name, room) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-state="open"]', { timeout: WAIT });
  const extensions = await page.evaluate(() => document.body.dataset.extensions);
  const deflated = extensions.includes('permessage-deflate');
  if (deflated !== (mode === 'deflate')) {
    await fail(`${name}: negotiated extensions ${JSON.stringify(extensions)} in ${mode} mode`);
  }
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join');
  await expectLine(page, `joined ${room}`);
  return page;
}

const lines = (page) => page.$$eval('#log li', (items) => items.map((li) => li.textContent));

async function expectLine(page, line) {
  try {
    await page.waitForFunction(
      (want) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === want),
      line,
      { timeout: WAIT },
    );
  } catch {
    await fail(`expected ${JSON.stringify(line)}, the page shows ${JSON.stringify(await lines(page))}`);
  }
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

const alice = await open('alice', 'a');
const bob = await open('bob', 'a');
await expectLine(alice, 'info bob joined');
const carol = await open('carol', 'b');

await say(alice, 'hello from alice');
await expectLine(bob, 'msg alice: hello from alice');
await say(bob, 'hi alice, 안녕 🦀');
await expectLine(alice, 'msg bob: hi alice, 안녕 🦀');
// A larger message (compressed when deflate is on).
const long = 'x'.repeat(20_000);
await say(bob, long);
await expectLine(alice, `msg bob: ${long}`);

// Carol, in room b, hears her own room and nothing of room a.
const dave = await open('dave', 'b');
await say(dave, 'room b only');
await expectLine(carol, 'msg dave: room b only');
for (const [name, page] of [['carol', carol], ['dave', dave]]) {
  const seen = (await lines(page)).filter((l) => l.includes('alice') || l.includes('bob'));
  if (seen.length) await fail(`${name} in room b saw room a: ${JSON.stringify(seen)}`);
}
for (const [name, page] of [['alice', alice], ['bob', bob]]) {
  const seen = (await lines(page)).filter((l) => l.includes('room b only'));
  if (seen.length) await fail(`${name} in room a saw room b: ${JSON.stringify(seen)}`);
}
// Nobody gets their own messages back (only the page's local "me:" line).
if ((await lines(alice)).some((l) => l.startsWith('msg alice:'))) await fail('alice got her own message back');

// Bob closes his page: alice is told he left, and later messages reach only her room.
await bob.close();
await expectLine(alice, 'info bob left');
await say(alice, 'anyone?');
await say(dave, 'still b');
await expectLine(carol, 'msg dave: still b');
if ((await lines(carol)).some((l) => l.includes('anyone?'))) await fail('carol saw room a after bob left');

// Carol leaves with the button: she is told, dave is told, and she hears room b no more.
await carol.click('#leave');
await expectLine(carol, 'left b');
await expectLine(dave, 'info carol left');
await say(dave, 'after carol left');
await new Promise((resolve) => setTimeout(resolve, 300));
if ((await lines(carol)).some((l) => l.includes('after carol left'))) await fail('carol still heard room b after leaving');

console.log(`browser test [${mode}]: ok (extensions: ${mode === 'deflate' ? 'permessage-deflate' : 'none'})`);
await browser.close();
