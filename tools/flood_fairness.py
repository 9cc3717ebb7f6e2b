"""Issue 10's fairness measurement, repeatable: client A floods /v1/verifications (open loop,
16 threads, as fast as the server accepts) for FLOOD_S seconds; meanwhile client B starts
one SMS verification every 0.25 s and measures how long until it is in the sandbox outbox.
Usage: flood.py BASE A_CREDS_JSON B_CREDS_JSON [FLOOD_S]"""
import json, sys, threading, time, urllib.request, base64

base, a_file, b_file = sys.argv[1:4]
flood_s = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
def auth(f):
    c = json.load(open(f))
    return "Bearer %s:%s" % (c["api_key"], c["api_secret"])
A, B = auth(a_file), auth(b_file)

def post(auth, to):
    req = urllib.request.Request(base + "/v1/verifications", data=json.dumps({"to": to}).encode(),
                                 headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status

stop = time.time() + flood_s
sent = [0]
lock = threading.Lock()
def flooder(k):
    i = 0
    while time.time() < stop:
        n = k * 1_000_000 + i
        i += 1
        try:
            post(A, "+1%03d%03d%04d" % (201 + n % 700, 200 + (n // 700) % 700, n % 10000))
            with lock: sent[0] += 1
        except Exception as e:
            pass
threads = [threading.Thread(target=flooder, args=(k,)) for k in range(16)]
for t in threads: t.start()

lat = []
j = 0
time.sleep(0.5)
while time.time() < stop:
    to = "+1628555%04d" % j
    j += 1
    t0 = time.time()
    post(B, to)
    while True:
        with urllib.request.urlopen(base + "/sandbox/api/messages?limit=1&to=" + to.replace("+", "%2B"), timeout=30) as r:
            if json.load(r):
                break
        time.sleep(0.005)
        if time.time() - t0 > 120: break
    lat.append(time.time() - t0)
    time.sleep(0.25)
for t in threads: t.join()
lat.sort()
print("A started %d in %.0f s; B: %d SMS, latency p50 %.3f s, max %.3f s" % (sent[0], flood_s, len(lat), lat[len(lat)//2], lat[-1]))
