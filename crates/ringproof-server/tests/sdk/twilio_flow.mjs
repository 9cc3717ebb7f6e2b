// The Verify flow through Twilio's official Node SDK (npm `twilio`, pinned in
// package-lock.json), pointed at a ringproof server by its one-line switch:
//
//     client.verify.baseUrl = "http://127.0.0.1:8080";
//
// Run by crates/ringproof-server/tests/api/twilio_sdk.rs with RP_BASE, RP_ACCOUNT_SID,
// RP_AUTH_TOKEN, RP_API_KEY_SID, RP_API_KEY_SECRET and RP_TO; reads each code from the
// sandbox phone (GET /sandbox/api/messages?to=). Exits non-zero, saying why, on the first
// difference from Twilio's behaviour.
import twilio from "twilio";

const { RP_BASE: BASE, RP_TO: TO, RP_ACCOUNT_SID: SID, RP_AUTH_TOKEN: TOKEN } = process.env;

function expect(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

/** The code of the newest message to TO beyond the first `after` messages. */
async function sandboxCode(after) {
  const url = `${BASE}/sandbox/api/messages?to=${encodeURIComponent(TO)}`;
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const messages = await (await fetch(url)).json();
    if (messages.length > after) {
      const text = messages[0].text;
      if (text.includes("Again:")) {
        return text.split(" is ")[1].split(".")[0].replace(/\D/g, "");
      }
      return text.match(/\d{4,10}/)[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(false, "no message reached the sandbox phone");
}

async function raises(code, status, f) {
  try {
    await f();
  } catch (e) {
    expect(e instanceof twilio.RestException, `not a RestException: ${e}`);
    expect(e.code === code, `error code ${e.code} (${e.message}), expected ${code}`);
    expect(e.status === status, `status ${e.status}, expected ${status}`);
    return e;
  }
  expect(false, `no RestException (expected ${code})`);
}

const client = twilio(SID, TOKEN);
client.verify.baseUrl = BASE; // the one line that changes

const service = await client.verify.v2.services.create({ friendlyName: "SDK Shop", codeLength: 6 });
expect(service.sid.startsWith("VA") && service.sid.length === 34, `service sid ${service.sid}`);
expect(service.codeLength === 6 && service.accountSid === SID, "service fields");
expect((await client.verify.v2.services(service.sid).fetch()).friendlyName === "SDK Shop", "fetch");
const updated = await client.verify.v2.services(service.sid).update({ doNotShareWarningEnabled: true });
expect(updated.doNotShareWarningEnabled === true, "update");
const extra = await client.verify.v2.services.create({ friendlyName: "SDK Extra" });
const listed = (await client.verify.v2.services.list({ pageSize: 1 })).map((s) => s.sid);
// (The test server's clock stands still: same-time services come in SID order.)
expect(listed.sort().join() === [service.sid, extra.sid].sort().join(), `list ${listed}`);
expect((await client.verify.v2.services(extra.sid).remove()) === true, "delete");
await raises(20404, 404, () => client.verify.v2.services(extra.sid).fetch());

const verify = client.verify.v2.services(service.sid);
const v = await verify.verifications.create({ to: TO, channel: "sms" });
expect(v.status === "pending" && v.valid === false, `start status ${v.status}`);
expect(v.sid.startsWith("VE") && v.channel === "sms", "start sid/channel");
expect(v.sendCodeAttempts.length === 1, "sendCodeAttempts");
const code = await sandboxCode(0);
const wrong = code !== "000000" ? "000000" : "111111";

let check = await verify.verificationChecks.create({ to: TO, code: wrong });
expect(check.status === "pending" && check.valid === false, `wrong code: ${check.status}`);
check = await verify.verificationChecks.create({ verificationSid: v.sid, code });
expect(check.status === "approved" && check.valid === true, `right code: ${check.status}`);
await raises(20404, 404, () => verify.verificationChecks.create({ to: TO, code }));
expect((await verify.verifications(v.sid).fetch()).status === "approved", "fetch approved");

const v2 = await verify.verifications.create({ to: TO, channel: "call" });
await sandboxCode(1);
const canceled = await verify.verifications(v2.sid).update({ status: "canceled" });
expect(canceled.status === "canceled", `cancel: ${canceled.status}`);
await raises(20404, 404, () => verify.verificationChecks.create({ verificationSid: v2.sid, code }));
expect((await verify.verifications(v2.sid).fetch()).status === "canceled", "fetch canceled");

// Service Rate Limits: a rate limit and a bucket of 2 per minute; starts naming the same
// value are refused from the third on, with 60203; another value is apart.
const rl = await verify.rateLimits.create({ uniqueName: "end_user_ip", description: "per IP" });
expect(rl.sid.startsWith("RK") && rl.uniqueName === "end_user_ip", `rate limit ${rl.sid}`);
expect(rl.serviceSid === service.sid && rl.links.buckets.endsWith("/Buckets"), "rate limit fields");
const bucket = await verify.rateLimits(rl.sid).buckets.create({ max: 2, interval: 60 });
expect(bucket.sid.startsWith("BL") && bucket.max === 2 && bucket.interval === 60, `bucket ${bucket.sid}`);
expect(bucket.rateLimitSid === rl.sid, "bucket rateLimitSid");
expect((await verify.rateLimits.list()).map((r) => r.sid).join() === rl.sid, "rate limits list");
expect((await verify.rateLimits(rl.sid).buckets(bucket.sid).fetch()).max === 2, "bucket fetch");
await raises(60208, 400, () => verify.rateLimits.create({ uniqueName: "end_user_ip" }));
const otherTo = TO.slice(0, -1) + "9";
let admitted = 0;
for (; admitted < 5; admitted++) {
  try {
    await verify.verifications.create({ to: otherTo, channel: "sms", rateLimits: { end_user_ip: "198.51.100.7" } });
  } catch (e) {
    expect(e instanceof twilio.RestException, `not a RestException: ${e}`);
    expect(e.code === 60203 && e.status === 429, `refusal ${e.code} ${e.status}: ${e.message}`);
    break;
  }
}
expect(admitted === 2, `${admitted} starts admitted under a bucket of 2`);
const v3 = await verify.verifications.create({ to: otherTo, channel: "sms", rateLimits: { end_user_ip: "198.51.100.8" } });
expect(v3.status === "pending", "another value is counted apart");
await raises(60200, 400, () => verify.verifications.create({ to: otherTo, channel: "sms", rateLimits: { nope: "x" } }));
expect((await verify.rateLimits(rl.sid).buckets(bucket.sid).remove()) === true, "bucket delete");
expect((await verify.rateLimits(rl.sid).remove()) === true, "rate limit delete");
await raises(20404, 404, () => verify.rateLimits(rl.sid).fetch());

await raises(60200, 400, () => verify.verifications.create({ to: "not-a-number", channel: "sms" }));
await raises(60223, 400, () => verify.verifications.create({ to: TO, channel: "whatsapp" }));
await raises(20404, 404, () => verify.verifications("VE" + "0".repeat(32)).fetch());
const bad = twilio(SID, "0".repeat(32));
bad.verify.baseUrl = BASE;
await raises(20003, 401, () => bad.verify.v2.services(service.sid).fetch());

// An API key authenticates as the same account.
const keyed = twilio(process.env.RP_API_KEY_SID, process.env.RP_API_KEY_SECRET, { accountSid: SID });
keyed.verify.baseUrl = BASE;
expect((await keyed.verify.v2.services(service.sid).fetch()).sid === service.sid, "API key auth");

console.log("node twilio SDK: OK");
