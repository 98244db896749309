// A minimal seccomp agent for the SCMP_ACT_NOTIFY test: accepts one
// connection on fd 3 (a listening socket the test made), records the message
// toyrun sends and the fd that comes with it, then answers every notified
// syscall with ENOMSG until the filter has no users left.
// Usage: bun test/seccomp-agent.ts OUTDIR
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../src/linux/libc';
import { iovec, msghdr } from '../src/linux/scmrights';

const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100; // _IOWR('!', 0, struct seccomp_notif), 80 bytes
const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101; // _IOWR('!', 1, struct seccomp_notif_resp), 24 bytes
const ENOMSG = 42;

/** One message of up to `max` bytes and the fd that came with it (SCM_RIGHTS). */
function recvWithFd(sock: number, max: number, what: string): { data: Buffer; fd: number | undefined } {
  const data = Buffer.alloc(max);
  const control = Buffer.alloc(24); // CMSG_SPACE(sizeof(int))
  const n = libc.recvmsg(sock, msghdr(iovec(data), control), what);
  const hasFd = control.readInt32LE(8) === 1 /* SOL_SOCKET */ && control.readInt32LE(12) === 1; /* SCM_RIGHTS */
  return { data: data.subarray(0, n), fd: hasFd ? control.readInt32LE(16) : undefined };
}

const out = process.argv[2] as string;
const conn = libc.accept(3);
const { data, fd } = recvWithFd(conn, 65536, 'agent');
writeFileSync(join(out, 'msg.json'), data);
if (fd === undefined) process.exit(2);

for (;;) {
  const ev = libc.pollOne(fd, libc.POLLIN, -1);
  if (ev & libc.POLLHUP) break; // every task using the filter is gone
  const req = Buffer.alloc(80); // must be zeroed for RECV
  try {
    libc.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req, 'NOTIF_RECV');
  } catch {
    continue; // the caller died meanwhile (ENOENT) or a signal
  }
  appendFileSync(join(out, 'calls'), `${req.readInt32LE(16)}\n`);
  const resp = Buffer.alloc(24);
  resp.writeBigUInt64LE(req.readBigUInt64LE(0), 0); // id
  resp.writeInt32LE(-ENOMSG, 16); // error
  try {
    libc.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp, 'NOTIF_SEND');
  } catch {
    // the caller is gone
  }
}
