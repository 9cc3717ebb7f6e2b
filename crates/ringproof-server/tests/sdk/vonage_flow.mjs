// The Verify v2 flow through Vonage's official Node SDK (npm `@vonage/server-sdk`, pinned
// in package-lock.json), pointed at a ringproof server by its one-line switch:
//
//     const vonage = new Vonage({ applicationId, privateKey }, { apiHost: "http://127.0.0.1:8080" });
//
// It authenticates as the SDK does for Verify v2: a fresh RS256 JWT per request, signed
// with the application's private key (its public key registered with
// `ringproof client vonage-application`). Run by
// crates/ringproof-server/tests/api/vonage_sdk.rs with RP_BASE, RP_APPLICATION_ID,
// RP_PRIVATE_KEY (PEM) and RP_TO (E.164 without the +); reads each code from the sandbox
// phone (GET /sandbox/api/messages?to=). Exits non-zero, saying why, on the first
// difference from Vonage's behaviour.
import { Vonage } from "@vonage/server-sdk";

const { RP_BASE: BASE, RP_TO: TO, RP_APPLICATION_ID: APP, RP_PRIVATE_KEY: KEY } = process.env;

function expect(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

/** The messages to TO on the sandbox phone, newest first. */
async function messages() {
  const url = `${BASE}/sandbox/api/messages?to=${encodeURIComponent("+" + TO)}`;
  return (await fetch(url)).json();
}

/** The code of the newest message once there are more than `after`. */
async function sandboxCode(after) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const list = await messages();
    if (list.length > after) {
      const text = list[0].text;
      if (text.includes("Again:")) {
        return text.split(" is ")[1].split(".")[0].replace(/\D/g, "");
      }
      return text.match(/\d{4,10}/)[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(false, "no message reached the sandbox phone");
}

/** Runs f, which must fail with the SDK's error carrying `status` and Vonage's problem body. */
async function fails(status, title, f) {
  try {
    await f();
  } catch (e) {
    expect(e.constructor.name === "VetchError", `not a VetchError: ${e}`);
    expect(e.response?.status === status, `status ${e.response?.status}, expected ${status}`);
    const body = await e.response.json();
    for (const m of ["type", "title", "detail", "instance"]) {
      expect(typeof body[m] === "string", `problem body without ${m}: ${JSON.stringify(body)}`);
    }
    expect(body.title === title, `title ${body.title}, expected ${title}`);
    return body;
  }
  expect(false, `no error (expected ${status})`);
}

const vonage = new Vonage({ applicationId: APP, privateKey: KEY }, { apiHost: BASE }); // the one line that changes

// New request: an SMS, then a call 120 s later, one code.
const { requestId } = await vonage.verify2.newRequest({
  brand: "SDK Shop",
  workflow: [
    { channel: "sms", to: TO },
    { channel: "voice", to: TO },
  ],
  channelTimeout: 120,
  codeLength: 6,
  clientRef: "sdk-test",
});
expect(typeof requestId === "string" && requestId.length > 0, `request id ${requestId}`);
const code = await sandboxCode(0);
expect(code.length === 6, `code length ${code.length}`);

// A second request to the number while this one is pending: 409.
await fails(409, "Conflict", () =>
  vonage.verify2.newRequest({ brand: "SDK Shop", workflow: [{ channel: "sms", to: TO }] }),
);

// Wrong code: 400, still pending.
const wrong = code === "000000" ? "111111" : "000000";
await fails(400, "Invalid Code", () => vonage.verify2.checkCode(requestId, wrong));

// Next workflow: the call now, repeating the code; then none is left.
expect((await vonage.verify2.nextWorkflow(requestId)) === true, "nextWorkflow");
const spoken = await sandboxCode(1);
expect(spoken === code, "the call repeats the code");
expect((await vonage.verify2.nextWorkflow(requestId)) === false, "no workflow left");

// Right code: completed; again: 410.
expect((await vonage.verify2.checkCode(requestId, code)) === "completed", "completed");
await fails(410, "Gone", () => vonage.verify2.checkCode(requestId, code));

// Cancel a new request: true, and the second time false (it is over).
const { requestId: second } = await vonage.verify2.newRequest({
  brand: "SDK Shop",
  workflow: [{ channel: "sms", to: TO }],
});
expect((await vonage.verify2.cancel(second)) === true, "cancel");
expect((await vonage.verify2.cancel(second)) === false, "cancel again");

// Validation and channels not enabled: 422 naming the parameter.
const bad = await fails(422, "Invalid params", () =>
  vonage.verify2.newRequest({ brand: "SDK Shop", workflow: [{ channel: "whatsapp", to: TO }] }),
);
expect(bad.invalid_parameters?.[0]?.name === "workflow", JSON.stringify(bad));
await fails(404, "Not Found", () => vonage.verify2.checkCode("VE00000000000000000000000000000000", "123456"));

// Another application's key: 401.
const { generateKeyPairSync } = await import("node:crypto");
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" });
const impostor = new Vonage({ applicationId: APP, privateKey: stranger }, { apiHost: BASE });
await fails(401, "Unauthorized", () => impostor.verify2.checkCode(requestId, code));

// Templates: two (the first is the default), a fragment, both listed page by page.
const template = await vonage.verify2.createTemplate({ name: "sdk-template" });
expect(typeof template.templateId === "string" && template.isDefault === true, JSON.stringify(template));
const spare = await vonage.verify2.createTemplate({ name: "sdk-spare" });
expect(spare.isDefault === false, JSON.stringify(spare));
const smsText = "SDK ${brand} code: ${code}";
const fragment = await vonage.verify2.createTemplateFragment(template.templateId, {
  channel: "sms",
  locale: "en-us",
  text: smsText,
});
expect(typeof fragment.templateFragmentId === "string" && fragment.text === smsText, JSON.stringify(fragment));
const listed = [];
for await (const t of vonage.verify2.listAllTemplates({ pageSize: 1 })) listed.push(t.name);
// (Both made in the same millisecond may list in either order.)
expect(listed.sort().join() === "sdk-spare,sdk-template", `templates ${listed}`);
const fragments = [];
for await (const f of vonage.verify2.listAllTemplateFragments({ templateId: template.templateId, pageSize: 1 })) {
  fragments.push(f.templateFragmentId);
}
expect(fragments.join() === fragment.templateFragmentId, `fragments ${fragments}`);
const got = await vonage.verify2.getTemplateFragment(template.templateId, fragment.templateFragmentId);
expect(got.text === smsText && got.locale === "en-us" && got.channel === "sms", JSON.stringify(got));

// A request naming the template: its SMS is the fragment's text with the code filled in.
const before = (await messages()).length;
const { requestId: templated } = await vonage.verify2.newRequest({
  brand: "SDK Shop",
  workflow: [{ channel: "sms", to: TO }],
  locale: "en-us",
  templateId: template.templateId,
});
const tcode = await sandboxCode(before);
const newest = (await messages())[0].text;
expect(newest === `SDK SDK Shop code: ${tcode}`, `templated SMS: ${newest}`);
expect((await vonage.verify2.checkCode(templated, tcode)) === "completed", "templated request completed");

// Updates, then deletes: the template only once its fragment is gone.
const changed = await vonage.verify2.updateTemplateFragment(template.templateId, {
  templateFragmentId: fragment.templateFragmentId,
  text: "Your ${brand} code is ${code}",
});
expect(changed.text === "Your ${brand} code is ${code}", JSON.stringify(changed));
const renamed = await vonage.verify2.updateTemplate({ templateId: spare.templateId, name: "sdk-renamed", isDefault: true });
expect(renamed.name === "sdk-renamed" && renamed.isDefault === true, JSON.stringify(renamed));
expect((await vonage.verify2.getTemplate(template.templateId)).isDefault === false, "one default");
await fails(422, "Invalid params", () =>
  vonage.verify2.createTemplateFragment(template.templateId, { channel: "sms", locale: "en-us", text: "no code" }),
);
await fails(409, "Conflict", () => vonage.verify2.deleteTemplate(template.templateId));
expect((await vonage.verify2.deleteTemplateFragment(template.templateId, fragment.templateFragmentId)) === true, "fragment deleted");
expect((await vonage.verify2.deleteTemplate(template.templateId)) === true, "template deleted");
await fails(404, "Not Found", () => vonage.verify2.getTemplate(template.templateId));

console.log("SDK: OK");
