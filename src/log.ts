// Runtime logging the way runc does it, because callers parse it:
// without --log, errors go to stderr as one logrus-style line (text or JSON);
// with --log FILE, the line is appended to FILE and only the bare message goes
// to stderr (podman reads the whole file as ONE JSON object, containerd keeps
// the last "error" line).
import { appendFileSync, writeSync } from 'node:fs';

export type LogFormat = 'text' | 'json';

/** Write to an fd directly. process.stdout/stderr are streams whose first use
 * loads the engine's whole stream stack (~7 ms of a 13 ms command under Bun). */
export function writeFd(fd: number, s: string): void {
  const buf = Buffer.from(s);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // a caller's non-blocking pipe: retry
      if (code === 'EPIPE' || code === 'EBADF') return; // nobody is reading
      throw e;
    }
  }
}
interface LogConfig {
  file?: string;
  format: LogFormat;
  debug: boolean;
}
const config: LogConfig = { format: 'text', debug: false };

export function configureLog(c: Partial<LogConfig>): void {
  Object.assign(config, c);
}

function line(level: string, msg: string): string {
  const time = new Date().toISOString();
  if (config.format === 'json') return JSON.stringify({ level, msg, time }) + '\n';
  return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

function emit(level: string, msg: string, alsoStderr: boolean): void {
  if (config.file) {
    try {
      appendFileSync(config.file, line(level, msg), { mode: 0o644 });
    } catch {
      // the log file is best effort; stderr still carries the message
    }
    if (alsoStderr) writeFd(2, msg + '\n');
  } else if (alsoStderr) {
    writeFd(2, line(level, msg));
  }
}

export function logError(msg: string): void {
  emit('error', msg, true);
}
/** Warnings never go to stderr: containerd decodes combined stdout+stderr as JSON. */
export function logWarn(msg: string): void {
  emit('warning', msg, false);
}
/** --debug lines go to the --log file, or without one to stderr as full log
 * lines (runc's logrus default); never to stdout, which callers parse. */
export function logDebug(msg: string): void {
  if (!config.debug) return;
  if (config.file) emit('debug', msg, false);
  else writeFd(2, line('debug', msg));
}

/** --debug: where the time of this process went (ms since the engine started). */
export function trace(what: string): void {
  if (config.debug) logDebug(`${what} at ${performance.now().toFixed(2)} ms`);
}
