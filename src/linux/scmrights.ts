// One message with one file descriptor over an AF_UNIX stream socket
// (SCM_RIGHTS): how a seccomp listener fd reaches its agent. Layouts are
// x86-64: msghdr 56 bytes, iovec 16, cmsghdr 16 + data.
import * as libc from './libc';
import { O } from './libc';

const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = O.CLOEXEC;
const SOL_SOCKET = 1, SCM_RIGHTS = 1;
const CMSG_LEN_ONE_FD = 16 + 4, CMSG_SPACE_ONE_FD = 24;

export function sockaddrUn(path: string): Buffer {
  const p = Buffer.from(path);
  if (p.length >= 108) throw new libc.SysError('socket', path, 36 /* ENAMETOOLONG */);
  const addr = Buffer.alloc(2 + p.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  p.copy(addr, 2);
  return addr;
}

/** A close-on-exec AF_UNIX stream socket connected to path. */
export function connectUnix(path: string): number {
  const fd = libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  try {
    libc.connect(fd, sockaddrUn(path), path);
  } catch (e) {
    libc.close(fd);
    throw e;
  }
  return fd;
}

/** A listening AF_UNIX stream socket at path (the agent's side). */
export function listenUnix(path: string): number {
  const fd = libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  libc.bind(fd, sockaddrUn(path), path);
  libc.listen(fd, 4);
  return fd;
}

export function msghdr(iov: Buffer, control: Buffer): Buffer {
  const msg = Buffer.alloc(56);
  msg.writeBigUInt64LE(libc.bufferAddress(iov), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(libc.bufferAddress(control), 32);
  msg.writeBigUInt64LE(BigInt(control.length), 40);
  return msg;
}

export function iovec(data: Buffer): Buffer {
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(libc.bufferAddress(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  return iov;
}

/** Send data (at least one byte: a stream needs payload to carry the cmsg) with one fd. */
export function sendWithFd(sock: number, data: Buffer, fd: number, what: string): void {
  const control = Buffer.alloc(CMSG_SPACE_ONE_FD);
  control.writeBigUInt64LE(BigInt(CMSG_LEN_ONE_FD), 0);
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  control.writeInt32LE(fd, 16);
  let off = libc.sendmsg(sock, msghdr(iovec(data), control), what);
  // the fd went with the first bytes; the rest is plain data
  while (off < data.length) off += libc.write(sock, data.subarray(off));
}
