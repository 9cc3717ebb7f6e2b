// An SMSC for the SMPP provider's tests, built on the npm `smpp` package (an independent
// SMPP 3.4 implementation, so our PDUs are checked by someone else's parser).
//
//   node smsc.js --system-id ID --password PW
//
// Listens on 127.0.0.1, on a port the OS picks, and speaks JSON lines on stdout:
//   {"event":"listening","port":N}
//   {"event":"bind","system_id":…,"ok":true|false}
//   {"event":"submit_sm","source_addr":…,"source_addr_ton":…,"source_addr_npi":…,
//    "destination_addr":…,"dest_addr_ton":…,"dest_addr_npi":…,"data_coding":…,
//    "esm_class":…,"registered_delivery":…,"short_message":"<hex>","status":…,"message_id":…}
//   {"event":"deliver_sm_resp","command_status":…}
//   {"event":"enquire_link"} {"event":"unbind"} {"event":"closed"}
//   {"event":"done","cmd":…}              after each control line
//
// Control lines on stdin:
//   receipt ID STAT       a deliver_sm receipt (Appendix B text) for message ID
//   receipt_tlv ID STATE  a receipt carried by receipted_message_id + message_state TLVs
//   throttle N            answer the next N submit_sm with ESME_RTHROTTLED
//   invalid N             answer the next N submit_sm with ESME_RINVDSTADR
//   drop                  close every session without an unbind
//   mute                  stop answering enquire_link (a peer that hangs)
//   ignore N              leave the next N submit_sm unanswered (recorded with status -1)
'use strict';
const smpp = require('smpp');
const readline = require('readline');

// Keep short_message as the raw octets: the test checks exactly what was sent.
smpp.filters.message.decode = (value) => value;

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const systemId = args['system-id'] || 'test';
const password = args['password'] || 'secret';

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const sessions = new Set();
let throttle = 0;
let invalid = 0;
let mute = false;
let ignore = 0;
let nextId = 0x1000;

const server = smpp.createServer({}, (session) => {
  let bound = false;
  session.on('error', () => {});
  session.on('close', () => {
    sessions.delete(session);
    out({ event: 'closed' });
  });
  session.on('bind_transceiver', (pdu) => {
    const ok = pdu.system_id === systemId && pdu.password === password;
    out({ event: 'bind', system_id: pdu.system_id, ok });
    if (!ok) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
      session.close();
      return;
    }
    bound = true;
    sessions.add(session);
    session.send(pdu.response({ system_id: 'testsmsc' }));
  });
  session.on('submit_sm', (pdu) => {
    if (!bound) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    let status = 0;
    let messageId = '';
    if (ignore > 0) {
      ignore -= 1;
      status = -1;
    } else if (throttle > 0) {
      throttle -= 1;
      status = smpp.ESME_RTHROTTLED;
    } else if (invalid > 0) {
      invalid -= 1;
      status = smpp.ESME_RINVDSTADR;
    } else {
      messageId = (nextId++).toString(16);
    }
    const sm = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
    out({
      event: 'submit_sm',
      source_addr: pdu.source_addr,
      source_addr_ton: pdu.source_addr_ton,
      source_addr_npi: pdu.source_addr_npi,
      destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton,
      dest_addr_npi: pdu.dest_addr_npi,
      data_coding: pdu.data_coding,
      esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery,
      short_message: sm.toString('hex'),
      status,
      message_id: messageId,
    });
    if (status === -1) return;
    session.send(pdu.response(status ? { command_status: status } : { message_id: messageId }));
  });
  session.on('deliver_sm_resp', (pdu) => out({ event: 'deliver_sm_resp', command_status: pdu.command_status }));
  session.on('enquire_link', (pdu) => {
    out({ event: 'enquire_link' });
    if (!mute) session.send(pdu.response());
  });
  session.on('unbind', (pdu) => {
    out({ event: 'unbind' });
    session.send(pdu.response());
    session.close();
  });
});

const states = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

function receipt(id, stat, withTlv) {
  const text = withTlv
    ? ''
    : `id:${id} sub:001 dlvrd:001 submit date:2611220500 done date:2611220501 stat:${stat} err:000 text:`;
  const fields = {
    source_addr: '447700900123',
    destination_addr: 'Acme',
    esm_class: 0x04,
    data_coding: 0,
    short_message: Buffer.from(text, 'latin1'),
  };
  if (withTlv) {
    fields.receipted_message_id = id;
    fields.message_state = states[stat] || Number(stat);
  }
  for (const s of sessions) {
    s.deliver_sm(fields);
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'receipt') receipt(a, b, false);
  else if (cmd === 'receipt_tlv') receipt(a, b, true);
  else if (cmd === 'throttle') throttle = Number(a);
  else if (cmd === 'invalid') invalid = Number(a);
  else if (cmd === 'mute') mute = true;
  else if (cmd === 'ignore') ignore = Number(a);
  else if (cmd === 'drop') for (const s of sessions) s.destroy();
  out({ event: 'done', cmd });
}).on('close', () => process.exit(0));

server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
