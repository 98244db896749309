// process.terminal: a pty allocated in the container's own devpts instance,
// handed to the caller over its --console-socket (runc's protocol, which conmon
// and containerd's go-runc check byte for byte):
//   one sendmsg, payload "/dev/ptmx" (SOCK_STREAM carries no cmsg without data),
//   exactly one SOL_SOCKET/SCM_RIGHTS control message holding exactly one fd,
//   the pty master. The slave becomes the process's stdio and controlling tty.
import * as libc from './libc';
import { AT_FDCWD, O, SysError } from './libc';
import { connectUnix, iovec, listenUnix, msghdr, sendWithFd } from './scmrights';
import type { ConsoleSize } from '../spec/types';

export interface ConsoleHandle {
  attach(): void;
}

const PAYLOAD = Buffer.from('/dev/ptmx');
const CMSG_LEN_FD = 16 + 4; // struct cmsghdr (size_t len; int level; int type) + one int

export function connectConsoleSocket(path: string): number {
  return connectUnix(path);
}

/** A listening console socket, for `toyrun run -t` relaying to the user's own terminal. */
export function listenConsoleSocket(path: string): number {
  return listenUnix(path);
}

/** The one message callers expect: payload "/dev/ptmx" with exactly one fd. */
export function sendFd(sock: number, fd: number, what: string): void {
  sendWithFd(sock, PAYLOAD, fd, what);
}

export interface ConsoleMessage {
  fd: number;
  payload: Buffer;
  /** msg_controllen after recvmsg: go-runc insists on exactly CMSG_SPACE(sizeof(int)). */
  controlLength: number;
  /** cmsg_len of the first control message: conmon insists on CMSG_LEN(sizeof(int)). */
  cmsgLength: number;
}

/** Receive the one fd a runtime sends on a console socket, with what callers check. */
export function recvConsoleMessage(sock: number, what: string): ConsoleMessage {
  const data = Buffer.alloc(4096);
  const control = Buffer.alloc(64); // room to notice a sender that passes more than one fd
  const iov = iovec(data);
  const msg = msghdr(iov, control);
  // received close-on-exec: hooks or helpers we spawn later must not inherit the master
  const n = libc.recvmsg(sock, msg, what, libc.MSG_CMSG_CLOEXEC);
  const controlLength = Number(msg.readBigUInt64LE(40));
  if (controlLength < CMSG_LEN_FD || control.readInt32LE(8) !== libc.SOL_SOCKET || control.readInt32LE(12) !== libc.SCM_RIGHTS) {
    throw new Error(`${what}: no SCM_RIGHTS file descriptor received`);
  }
  return { fd: control.readInt32LE(16), payload: data.subarray(0, n), controlLength, cmsgLength: Number(control.readBigUInt64LE(0)) };
}

export function recvFd(sock: number, what: string): number {
  return recvConsoleMessage(sock, what).fd;
}

export function setWindowSize(fd: number, size: ConsoleSize): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(size.height, 0);
  ws.writeUInt16LE(size.width, 2);
  libc.ioctl(fd, libc.TIOCSWINSZ, ws, 'ioctl TIOCSWINSZ');
}

export function getWindowSize(fd: number): ConsoleSize | undefined {
  const ws = Buffer.alloc(8);
  try {
    libc.ioctl(fd, libc.TIOCGWINSZ, ws, 'ioctl TIOCGWINSZ');
  } catch {
    return undefined;
  }
  return { height: ws.readUInt16LE(0), width: ws.readUInt16LE(2) };
}

/** Open a new pty in the devpts instance mounted at /dev/pts of the current
 * root (the container's, after pivot_root or setns into its mount namespace). */
export function openPty(): { master: number; slave: number } {
  const master = libc.openat(AT_FDCWD, '/dev/pts/ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC);
  try {
    libc.unlockpt(master);
    const slave = libc.openat(AT_FDCWD, libc.ptsname(master), O.RDWR | O.NOCTTY | O.CLOEXEC);
    return { master, slave };
  } catch (e) {
    libc.close(master);
    throw e;
  }
}

/** The slave becomes fds 0-2 and the controlling terminal of a new session.
 * TIOCSCTTY only works for a session leader without a terminal: setsid first
 * (we were spawned, never a group leader, so setsid cannot fail with EPERM;
 * if we already lead a session, that is just as good). */
export function becomeTerminalOwner(slave: number): void {
  try {
    libc.setsid();
  } catch (e) {
    if (!(e instanceof SysError && e.code === 'EPERM')) throw e;
  }
  libc.ioctl(slave, libc.TIOCSCTTY, 0, 'ioctl TIOCSCTTY');
  for (const fd of [0, 1, 2]) libc.dup3(slave, fd);
  if (slave > 2) libc.close(slave);
}

const AT_EMPTY_PATH = 0x1000;

/** The pty slave (our fds 0-2 once attached) is made by the runtime as root;
 * hand it to the process's user before the switch, or a non-root process
 * could not use its own terminal. Only the uid changes: the gid stays the
 * devpts mount's (tty, gid=5), as runc's fixStdioPermissions does. An owner or
 * group not mapped in a user namespace (EINVAL, EPERM) leaves it as it is. */
export function giveTerminalTo(uid: number): void {
  for (const fd of [0, 1, 2]) {
    if (!libc.isatty(fd)) continue;
    try {
      libc.fchownat(fd, '', uid, 0xffffffff /* -1: gid unchanged */, AT_EMPTY_PATH);
    } catch (e) {
      if (e instanceof SysError && (e.code === 'EINVAL' || e.code === 'EPERM')) continue;
      throw e;
    }
  }
}

/** Connect now (the socket path is a host path: before pivot_root or setns),
 * allocate and hand over the pty in attach() (inside the container's root). */
/** connectedFd: the socket already connected by the runtime (a user namespace's
 * root may not reach the caller's socket path). */
export function setupConsole(socketPath: string | undefined, _rootfs: string, size?: ConsoleSize, connectedFd?: number): ConsoleHandle {
  if (!socketPath) throw new Error('process.terminal is true but no --console-socket was given');
  const sock = connectedFd ?? connectConsoleSocket(socketPath);
  return {
    attach(): void {
      try {
        const { master, slave } = openPty();
        try {
          if (size) setWindowSize(slave, size);
          becomeTerminalOwner(slave);
          sendFd(sock, master, socketPath);
        } finally {
          libc.close(master);
        }
      } finally {
        libc.close(sock);
      }
    },
  };
}
